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
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        message = (
            f"the body is not valid JSON ({error}); send a JSON object with the "
            "members to change"
        )
        raise UnprocessableError(
            message, errors=[{"location": "body", "message": message, "input": None}]
        ) from error


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
