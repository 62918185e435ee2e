"""Every endpoint and dependency of the four services runs on the event loop.

FastAPI hands a plain `def` endpoint or dependency to a worker thread on
each request. A dependency that every request needs, such as the runtime,
then costs each request a thread hop. In the visits service that hop was
about a tenth of the CPU of a check-in.
"""

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

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


def runs_on_the_loop(call: Callable[..., Any]) -> bool:
    """A coroutine or async generator function, or an object whose call is one."""
    if not inspect.isroutine(call):
        call = call.__call__
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


def threaded_calls(dependant: Dependant, path: str) -> Iterator[str]:
    """Name each callable under `dependant` that FastAPI would run in a thread."""
    call = dependant.call
    if call is not None and not runs_on_the_loop(call):
        yield f"{path}: {getattr(call, '__qualname__', repr(call))}"
    for sub in dependant.dependencies:
        yield from threaded_calls(sub, path)


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers, which FastAPI wraps."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def declared_dependencies(app: FastAPI) -> Iterator[Any]:
    """The Depends given to the app, to routers and to include_router calls."""
    yield from app.router.dependencies
    pending: list[Sequence[BaseRoute]] = [app.routes]
    while pending:
        for route in pending.pop():
            included = getattr(route, "original_router", None)
            if included is None:
                continue
            context = getattr(route, "include_context", None)
            yield from getattr(context, "dependencies", [])
            yield from included.dependencies
            pending.append(included.routes)


@pytest.mark.parametrize("name", sorted(APPS))
def test_no_endpoint_or_dependency_runs_in_a_thread(name: str) -> None:
    app: FastAPI = APPS[name]()
    routes = list(api_routes(app.routes))
    found = [
        call
        for route in routes
        for call in threaded_calls(route.dependant, f"{route.methods} {route.path}")
    ]
    found += [
        call
        for depends in declared_dependencies(app)
        if depends.dependency is not None
        for call in threaded_calls(
            get_dependant(path="", call=depends.dependency), "declared"
        )
    ]

    assert len(routes) > 5
    assert found == []
