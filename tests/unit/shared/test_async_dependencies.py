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

from tests.unit.shared.test_openapi import APPS


def runs_on_the_loop(call: Callable[..., Any]) -> bool:
    """Return whether `call` is a coroutine or async generator function, or an
    object whose `__call__` is one."""
    if not inspect.isroutine(call):
        call = call.__call__
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


def threaded_calls(dependant: Dependant, path: str) -> Iterator[str]:
    """Yield the name of each callable under `dependant` that FastAPI would run
    in a thread."""
    call = dependant.call
    if call is not None and not runs_on_the_loop(call):
        yield f"{path}: {getattr(call, '__qualname__', repr(call))}"
    for sub in dependant.dependencies:
        yield from threaded_calls(sub, path)


def included_routers(routes: Sequence[BaseRoute]) -> Iterator[tuple[Any, Any]]:
    """Yield each route that wraps an included router, with that router.

    FastAPI keeps an included router's routes and the `include_router`
    arguments on such a route rather than copying them into the app.
    """
    for route in routes:
        router = getattr(route, "original_router", None)
        if router is not None:
            yield route, router
            yield from included_routers(router.routes)


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Yield every API route of the app, those of included routers too."""
    groups = [app.routes] + [
        router.routes for _, router in included_routers(app.routes)
    ]
    for routes in groups:
        yield from (route for route in routes if isinstance(route, APIRoute))


def declared_dependencies(app: FastAPI) -> Iterator[Any]:
    """Yield the Depends given to the app, to routers and to include_router."""
    yield from app.router.dependencies
    for wrapper, router in included_routers(app.routes):
        yield from getattr(wrapper.include_context, "dependencies", [])
        yield from router.dependencies


@pytest.mark.parametrize("name", sorted(APPS))
def test_no_dependency_runs_in_thread(name: str) -> None:
    app: FastAPI = APPS[name]()
    routes = list(api_routes(app))
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
