"""Reject query parameters an endpoint does not define.

FastAPI ignores a query parameter it does not know, so `?campaign=` where
the filter is `campaign_id` returns what no filter would: a list or an
export of everything the caller may read. Every endpoint that the
service's routers define checks the names against its own parameters first
and returns 422 with the unknown name and the valid ones. A value that
contains NUL is rejected there too, naming the parameter: PostgreSQL cannot compare
text with NUL, so the database would refuse it with a vaguer message.
"""

from collections.abc import Collection
from typing import Any, NoReturn

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

_known: dict[int, frozenset[str]] = {}


def _query_names(route: APIRoute) -> frozenset[str]:
    names = _known.get(id(route))
    if names is None:
        names = frozenset(_walk(route.dependant))
        _known[id(route)] = names
    return names


def _walk(dependant: Dependant) -> set[str]:
    """Collect the query names of an endpoint and of all its dependencies."""
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            # A query model spreads its fields over the query string.
            names.update(f.alias or n for n, f in model.model_fields.items())
        else:
            names.add(param.alias)
    for child in dependant.dependencies:
        names |= _walk(child)
    return names


def _form_names(dependant: Dependant) -> set[str]:
    """Collect the form fields (files included) of an endpoint and its dependencies."""
    names = {param.alias for param in dependant.body_params}
    for child in dependant.dependencies:
        names |= _form_names(child)
    return names


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def reject_unknown_query_parameters(request: Request) -> None:
    """Raise a validation error for each query or form name the endpoint lacks.

    Form fields get the check too: a misspelt `mappnig` beside a file would
    load the file with the columns guessed instead of the mapping meant.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    valid_form = _form_names(route.dependant)
    # Only where the endpoint declares form fields: FastAPI has parsed the
    # form then and Starlette keeps it. An endpoint that reads its body as
    # a stream declares none, and its stream must stay unread.
    is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
    if valid_form and is_form:
        form = await request.form()
        stray = sorted({name for name in form if name not in valid_form})
        if stray:
            _raise_unknown("body", stray, valid_form, form)
    if not request.query_params:
        return
    valid = _query_names(route)
    unknown = sorted({name for name in request.query_params if name not in valid})
    if not unknown:
        _reject_nul_values(request)
        return
    _raise_unknown("query", unknown, valid, request.query_params)


def _raise_unknown(
    where: str, unknown: list[str], valid: Collection[str], values: Any
) -> NoReturn:
    listed = ", ".join(sorted(valid)) if valid else "none"
    what = "query parameter" if where == "query" else "form field"
    raise RequestValidationError(
        [
            {
                "type": "extra_forbidden",
                "loc": (where, name),
                "ctx": {"valid": listed},
                "msg": (
                    f"unknown {what} {name[:100]!r}; the valid ones are "
                    f"{listed}; check the spelling or remove it"
                ),
                "input": values.get(name) if where == "query" else None,
            }
            for name in unknown
        ]
    )


def _reject_nul_values(request: Request) -> None:
    with_nul = sorted(
        {name for name, value in request.query_params.multi_items() if "\x00" in value}
    )
    if with_nul:
        raise RequestValidationError(
            [
                {
                    "type": "nul_character",
                    "loc": ("query", name),
                    "msg": f"{name} contains a NUL character (\\x00); remove it",
                    "input": None,
                }
                for name in with_nul
            ]
        )
