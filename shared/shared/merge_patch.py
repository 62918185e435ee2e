"""JSON Merge Patch (RFC 7396): read a patch body and apply it to a document.

A merge patch names only the members to change. A member set to null is
removed, an object is merged member by member, and any other value
replaces the target's. A patch that is not an object replaces the whole
document, which the caller's validation then rejects.
"""

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from shared.errors import AppError, UnprocessableError

MERGE_PATCH_CONTENT_TYPE = "application/merge-patch+json"
# `apply_merge_patch` recurses once per level, so a deeper body could exhaust
# Python's recursion limit (1000 by default) and fail with a 500.
MAX_PATCH_DEPTH = 32

Model = TypeVar("Model", bound=BaseModel)


class UnsupportedMediaTypeError(AppError):
    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Return `target` with `patch` merged into it; neither argument changes."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = apply_merge_patch(merged.get(name), value)
    return merged


async def read_merge_patch(request: Request) -> Any:
    """Parse the body of a merge-patch request, or raise a 415 or a 422."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if media_type.lower() != MERGE_PATCH_CONTENT_TYPE:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media_type or '(none)'!r} is not supported here; send "
            f"the changes as a JSON Merge Patch with Content-Type: "
            f"{MERGE_PATCH_CONTENT_TYPE}",
            accepted=[MERGE_PATCH_CONTENT_TYPE],
        )
    body = await request.body()
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise _invalid_body(
            f"the body is not valid JSON ({error}); send a JSON object with the "
            "members to change"
        ) from error
    if _nesting_depth(document) > MAX_PATCH_DEPTH:
        raise _invalid_body(
            f"the body nests deeper than {MAX_PATCH_DEPTH} levels; send a JSON "
            "object with the members to change"
        )
    return document


def _invalid_body(message: str) -> UnprocessableError:
    return UnprocessableError(
        message, errors=[{"location": "body", "message": message, "input": None}]
    )


def _nesting_depth(document: Any) -> int:
    """Return how many objects and arrays deep `document` goes, without recursion."""
    deepest = 0
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def validate_patched(model: type[Model], document: Any) -> Model:
    """Validate a patched document as the model, with errors located in the body.

    The errors read as those of a request that sent the whole document, so a
    PATCH and a PUT of the same values fail alike.
    """
    try:
        # FastAPI validates bodies in this mode, so a non-object reads the same.
        return model.model_validate(document, from_attributes=True)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**item, "loc": ("body", *item["loc"])}
                for item in error.errors(include_url=False)
            ]
        ) from error
