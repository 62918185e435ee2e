"""One error hierarchy, rendered as RFC 9457 problem details."""

from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, HTTPException, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://campo.example/problems/"

log = structlog.get_logger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem details object, with optional extension members."""

    type: str = Field(description="URI that identifies the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field-level errors: location, message, input."
    )

    model_config = {"extra": "allow"}


class AppError(Exception):
    """Base of every error the services raise on purpose.

    A subclass sets `status` and `code`; the message names the ids or the
    values involved and, where there is one, the fix. `extensions` become
    extra members of the problem document (for example the current state).
    """

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFoundError(AppError):
    status = 404
    code = "not-found"
    title = "Not found"


class ConflictError(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidStateError(ConflictError):
    """An illegal state transition; carries the current state."""

    code = "invalid-state"
    title = "Invalid state transition"


class UnauthorizedError(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class ForbiddenError(AppError):
    """A known caller whose credential lacks the permission the endpoint needs."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class TooManyRequestsError(AppError):
    """A caller over its rate limit; `retry_after` is sent as the Retry-After header."""

    status = 429
    code = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.retry_after = retry_after


class PayloadTooLargeError(AppError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class RequestTooLargeError(HTTPException):
    """A request body past the size limit, raised while the body streams in.

    It is FastAPI's HTTPException, not an AppError, because FastAPI re-raises
    only that from body parsing and turns anything else into a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(limit))
        self.limit = limit


def too_large_detail(limit: int) -> str:
    return (
        f"the request body is larger than {limit} bytes, the limit for this "
        "route; send a smaller body, or split the data across several requests"
    )


class UnprocessableError(AppError):
    status = 422
    code = "unprocessable"
    title = "Unprocessable content"


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        **extensions,
    ).model_dump(exclude_none=True, mode="json")
    return JSONResponse(
        _encodable(body),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _encodable(value: Any) -> Any:
    """Replace lone surrogates, which UTF-8 cannot encode, with U+FFFD.

    A request may carry one as a JSON escape (`"\\ud800"`), and the problem
    echoes the invalid input back. Without this the response is a 500.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    return value


def problem_responses(
    *errors: type[AppError],
    examples: dict[int, dict[str, dict[str, Any]]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """Declare on a route the problems it can return, for the OpenAPI document.

    Errors that share a status become one response whose description lists
    each problem type and title, because OpenAPI keys responses by status.
    `examples` maps a status to named OpenAPI examples of its problem
    documents.
    """
    examples = examples or {}
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        listed = by_status.setdefault(error.status, [])
        if all(other.code != error.code for other in listed):
            listed.append(error)
    return {
        status: {
            "model": Problem,
            "description": _describe_problems(listed),
            "content": {
                PROBLEM_CONTENT_TYPE: (
                    {"examples": examples[status]} if status in examples else {}
                )
            },
        }
        for status, listed in by_status.items()
    }


def _describe_problems(errors: list[type[AppError]]) -> str:
    if len(errors) == 1:
        return f"{errors[0].title} (`{PROBLEM_TYPE_BASE}{errors[0].code}`)"
    lines = [f"One of {len(errors)} problems, told apart by `type`:", ""]
    lines += [f"- `{PROBLEM_TYPE_BASE}{e.code}`: {e.title}" for e in errors]
    return "\n".join(lines)


def _log_not_found(request: Request) -> None:
    """Record who asked for something that is not theirs or does not exist.

    Another tenant's resource returns 404 like a missing one, so this line is
    how an operator sees a caller probing ids that are not its own.
    """
    log.info(
        "request.not_found",
        method=request.method,
        path=request.url.path,
        caller=getattr(request.state, "caller", None),
        tenant_id=getattr(request.state, "tenant_id", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, known or not, as a problem document; never an HTML 500."""

    @app.exception_handler(AppError)
    async def handle_app_error(request: Request, error: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        if error.status == 404:
            _log_not_found(request)
        if isinstance(error, TooManyRequestsError):
            headers = {"Retry-After": error.retry_after}
        return problem_response(
            status=error.status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            instance=request.url.path,
            headers=headers,
            **error.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        form = _reads_form(request)
        errors = [_validation_item(item, form=form) for item in error.errors()]
        first = errors[0] if errors else {"location": "body", "message": "invalid"}
        return problem_response(
            status=422,
            code="validation-error",
            title="Invalid request",
            detail=f"{first['location']}: {first['message']}",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(RequestTooLargeError)
    async def handle_too_large(
        request: Request, error: RequestTooLargeError
    ) -> JSONResponse:
        return problem_response(
            status=413,
            code=PayloadTooLargeError.code,
            title=PayloadTooLargeError.title,
            detail=str(error.detail),
            instance=request.url.path,
            max_bytes=error.limit,
        )

    @app.exception_handler(StarletteHTTPException)
    async def handle_http_error(
        request: Request, error: StarletteHTTPException
    ) -> JSONResponse:
        return problem_response(
            status=error.status_code,
            code="http-" + str(error.status_code),
            title=str(error.detail) if error.status_code < 500 else "Server error",
            detail=str(error.detail),
            instance=request.url.path,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def handle_database_error(
        request: Request, error: DBAPIError
    ) -> JSONResponse:
        return _database_problem(request, error)

    @app.exception_handler(Exception)
    async def handle_unexpected_error(
        request: Request, error: Exception
    ) -> JSONResponse:
        log.exception(
            "request.failed", path=request.url.path, error_type=type(error).__name__
        )
        return problem_response(
            status=500,
            code="internal-error",
            title="Internal error",
            detail="The server failed to handle this request; it has been logged.",
            instance=request.url.path,
        )


# SQLSTATE classes (PostgreSQL manual, appendix A): 22 is a data exception
# (a value out of range, too long, or a NUL in text), 40 a rolled-back
# transaction (deadlock or serialization failure), 23 a constraint.
_DATA_EXCEPTION = "22"
_TRANSACTION_ROLLBACK = "40"
_INTEGRITY = "23"
# Class 08 is a lost connection, and 57P01 to 57P03 a server shutting down
# or starting up.
_CONNECTION_LOST = ("08", "57P01", "57P02", "57P03")


def sqlstate(error: DBAPIError) -> str | None:
    """Return the SQLSTATE code of a database error, wherever the driver put it."""
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(
            candidate, "pgcode", None
        )
        if isinstance(code, str):
            return code
    return None


def _is_client_encoding_error(error: DBAPIError) -> bool:
    """asyncpg raises these before sending, e.g. for an int beyond 64 bits."""
    cause = getattr(error.orig, "__cause__", None)
    return isinstance(
        cause, OverflowError | ValueError
    ) or "invalid input for query" in str(error.orig)


def _database_problem(request: Request, error: DBAPIError) -> JSONResponse:
    """Turn a database error caused by the request's values into a 4xx problem.

    The database is the last line of defence: input checks should catch
    these first, and the message never echoes SQL or parameters.
    """
    code = sqlstate(error) or ""
    log.warning(
        "request.database_error",
        path=request.url.path,
        sqlstate=code,
        error_type=type(error.orig).__name__,
    )
    if code.startswith(_DATA_EXCEPTION) or (
        not code and _is_client_encoding_error(error)
    ):
        return problem_response(
            status=422,
            code="invalid-value",
            title="Invalid value",
            detail=(
                "a value in the request is out of range, too long, or contains a "
                "character that cannot be stored (such as NUL); check the values "
                "and send the request again"
            ),
            instance=request.url.path,
        )
    if code.startswith(_TRANSACTION_ROLLBACK):
        return problem_response(
            status=503,
            code="concurrent-update",
            title="Concurrent update",
            detail="the request collided with a concurrent one; send it again",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )
    if code.startswith(_INTEGRITY):
        return problem_response(
            status=409,
            code="conflict",
            title="Conflict",
            detail="the request conflicts with existing data; reload it and retry",
            instance=request.url.path,
        )
    if error.connection_invalidated or code.startswith(_CONNECTION_LOST):
        # A pooled connection the server closed. SQLAlchemy has already
        # dropped it from the pool, so a retry gets a new one.
        return problem_response(
            status=503,
            code="database-unavailable",
            title="Database unavailable",
            detail="the connection to the database was lost; send the request again",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )
    log.error("request.failed", path=request.url.path, error_type=type(error).__name__)
    return problem_response(
        status=500,
        code="internal-error",
        title="Internal error",
        detail="The server failed to handle this request; it has been logged.",
        instance=request.url.path,
    )


def _reads_form(request: Request) -> bool:
    """Tell whether the matched route reads a form (File or Form parameters)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    return body_field is not None and isinstance(body_field.field_info, params.Form)


def _validation_item(item: Any, *, form: bool) -> dict[str, Any]:
    """Render one pydantic error as its location, a message and the input."""
    parts = item.get("loc", ())
    location = ".".join(str(part) for part in parts)
    message = item.get("msg", "")
    context = item.get("ctx") or {}
    kind = item.get("type")
    if kind == "json_invalid":
        # FastAPI puts the character offset of the syntax error after "body".
        where = f" at character {parts[-1]}" if len(parts) > 1 else ""
        reason = context.get("error", "syntax error")
        return {
            "location": "body",
            "message": f"the body is not valid JSON: {reason}{where}; send a "
            "JSON document with Content-Type: application/json",
            "input": None,
        }
    if kind == "missing" and form and len(parts) == 2 and parts[0] == "body":
        message = (
            f"the multipart form field {parts[1]!r} is missing; send the file as "
            f"that field, e.g. curl -F {parts[1]}=@FILE"
        )
    elif kind == "extra_forbidden" and "valid" not in context:
        message = (
            f"unknown field {str(parts[-1]) if parts else ''!r}; check the spelling "
            "or remove it"
        )
    secret = bool(parts) and str(parts[-1]) in SECRET_FIELDS
    return {
        "location": location,
        "message": message,
        "input": None if secret else _safe_input(item.get("input")),
    }


# Body fields whose value must never come back in an error: a response to a
# login ends up in browser tools, client logs and error trackers.
SECRET_FIELDS = frozenset(
    {"password", "new_password", "current_password", "refresh_token", "secret", "key"}
)


def _safe_input(value: Any) -> Any:
    """Keep small scalar inputs in the error; drop big or nested ones."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) or len(value) <= 200 else value[:200]
    return None
