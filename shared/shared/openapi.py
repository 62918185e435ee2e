"""OpenAPI document fixes that apply to every service.

FastAPI documents request validation failures with its own
`HTTPValidationError` schema, but our handler returns an RFC 9457 problem
document for them. The OpenAPI document must describe what clients get.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, Problem

PROBLEM_REF = "#/components/schemas/Problem"
FORBIDDEN_DESCRIPTION = (
    "The API key lacks the scope this operation lists under `security` "
    f"(`{PROBLEM_TYPE_BASE}forbidden`)"
)
RATE_LIMITED_DESCRIPTION = (
    "The caller sent more requests than its rate limit; wait as `Retry-After` "
    f"says (`{PROBLEM_TYPE_BASE}too-many-requests`)"
)
TOO_LARGE_DESCRIPTION = (
    "The body is larger than the service accepts on this route "
    f"(`{PROBLEM_TYPE_BASE}payload-too-large`)"
)


def install_problem_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_content(response: dict[str, Any]) -> dict[str, Any]:
    """Describe a problem response, keeping the examples a route declared."""
    declared = response.get("content", {}).get(PROBLEM_CONTENT_TYPE, {})
    content: dict[str, Any] = {"schema": {"$ref": PROBLEM_REF}}
    if "examples" in declared:
        content["examples"] = declared["examples"]
    return {PROBLEM_CONTENT_TYPE: content}


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                # BodyLimitMiddleware applies to every request with a body.
                responses.setdefault("413", {"description": TOO_LARGE_DESCRIPTION})
            if _required_scopes(operation):
                responses.setdefault("403", {"description": FORBIDDEN_DESCRIPTION})
            if operation.get("security"):
                responses.setdefault("429", {"description": RATE_LIMITED_DESCRIPTION})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = _problem_content(response)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _required_scopes(operation: dict[str, Any]) -> set[str]:
    """Return the scopes an operation's security requirements list."""
    return {
        scope
        for requirement in operation.get("security", [])
        for scopes in requirement.values()
        for scope in scopes
    }
