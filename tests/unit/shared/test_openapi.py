import json
from typing import Any

import pytest
from fastapi import FastAPI

from ingest.app import create_app as ingest_app
from matching.app import create_app as matching_app
from reporting.app import create_app as reporting_app
from visits.app import create_app as visits_app

APPS = {
    "ingest": ingest_app,
    "matching": matching_app,
    "visits": visits_app,
    "reporting": reporting_app,
}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


@pytest.mark.parametrize("name", sorted(APPS))
class TestOpenApiDocument:
    def document(self, name: str) -> dict[str, Any]:
        app: FastAPI = APPS[name]()
        return app.openapi()

    def test_every_ref_resolves(self, name: str):
        document = self.document(name)
        schemas = document["components"]["schemas"]
        for ref in refs(document):
            assert ref.startswith("#/components/schemas/")
            assert ref.removeprefix("#/components/schemas/") in schemas, ref

    def test_errors_are_problem_documents(self, name: str):
        document = self.document(name)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    if status.startswith(("4", "5")):
                        content = response.get("content", {})
                        assert list(content) == ["application/problem+json"], (
                            f"{method.upper()} {path} {status}"
                        )

    def test_validation_error_schema_not_advertised(self, name: str):
        assert "HTTPValidationError" not in json.dumps(self.document(name))


def test_shared_status_lists_every_problem():
    responses = ingest_app().openapi()["paths"]["/uploads"]["post"]["responses"]

    description = responses["422"]["description"]

    assert "unreadable-upload" in description
    assert "invalid-column-mapping" in description
    schema = responses["422"]["content"]["application/problem+json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Problem"}


def test_duplicate_payment_documented():
    responses = ingest_app().openapi()["paths"]["/payments"]["post"]["responses"]

    assert "201" in responses
    assert "already reported" in responses["200"]["description"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/uploads"), ("post", "/payments/file"), ("patch", "/accounts/{ref}")],
)
def test_body_routes_declare_413(method: str, path: str):
    paths = ingest_app().openapi()["paths"]
    operation = next(
        operations[method]
        for name, operations in paths.items()
        if name.split("{")[0] == path.split("{")[0] and method in operations
    )

    assert "payload-too-large" in operation["responses"]["413"]["description"]


def test_release_route_shows_problem_examples():
    responses = matching_app().openapi()["paths"]["/assignments/{visit_id}/release"][
        "post"
    ]["responses"]

    def example_types(status: str) -> set[str]:
        content = responses[status]["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
        return {
            e["value"]["type"].rsplit("/", 1)[1] for e in content["examples"].values()
        }

    assert example_types("409") == {"assignment-not-active", "visit-under-way"}
    assert example_types("404") == {"not-found"}
    assert "examples" not in responses["401"]["content"]["application/problem+json"]
