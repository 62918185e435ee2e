"""Find a `$ref` in a visit form that leads back to itself without reading deeper.

Checking an answer against `{"$ref": "#/properties/a"}` placed at
`/properties/a` means checking the same answer against the same schema
again, for ever: the visits service can then never accept a result for the
campaign. A reference that goes one level into the answer (through
`properties` or `items`) ends, because answers are finite; only the
keywords that apply a schema to the same value (`$ref`, `allOf`, `anyOf`,
`oneOf`, `not`, `if`, `then`, `else`, `dependentSchemas`) can loop.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

# Keywords whose schemas apply to the same value as the schema holding them.
IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
IN_PLACE_SCHEMAS = ("not", "if", "then", "else")
IN_PLACE_MAPS = ("dependentSchemas",)


def ref_loop(schema: dict[str, Any]) -> list[str] | None:
    """Return the pointers of a loop of same-value references, or None."""
    nodes = dict(_schemas(schema, ""))
    anchors = {
        node["$anchor"]: pointer
        for pointer, node in nodes.items()
        if isinstance(node.get("$anchor"), str)
    }

    def next_pointers(pointer: str) -> Iterator[str]:
        node = nodes[pointer]
        target = _target(node.get("$ref"), anchors)
        if target is not None and target in nodes:
            yield target
        yield from (child for child, _ in _in_place(node, pointer))

    done: set[str] = set()
    for start in nodes:
        loop = _find_loop(start, next_pointers, done)
        if loop is not None:
            return loop
    return None


def _find_loop(start: str, next_pointers: Any, done: set[str]) -> list[str] | None:
    """Depth-first search from `start`; return the first cycle met, or None."""
    path: list[str] = []
    on_path: set[str] = set()
    stack: list[tuple[str, Iterator[str]]] = []
    if start in done:
        return None
    path.append(start)
    on_path.add(start)
    stack.append((start, next_pointers(start)))
    while stack:
        pointer, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            path.pop()
            on_path.discard(pointer)
            done.add(pointer)
            continue
        if child in on_path:
            return [*path[path.index(child) :], child]
        if child not in done:
            path.append(child)
            on_path.add(child)
            stack.append((child, next_pointers(child)))
    return None


def _target(ref: Any, anchors: dict[str, str]) -> str | None:
    """Turn a local `$ref` into the JSON pointer of the schema it names."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    fragment = unquote(ref[1:])
    if fragment == "" or fragment.startswith("/"):
        return fragment
    return anchors.get(fragment)


def _in_place(node: dict[str, Any], pointer: str) -> Iterator[tuple[str, Any]]:
    for key in IN_PLACE_LISTS:
        items = node.get(key)
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    yield f"{pointer}/{key}/{index}", item
    for key in IN_PLACE_SCHEMAS:
        if isinstance(node.get(key), dict):
            yield f"{pointer}/{key}", node[key]
    for key in IN_PLACE_MAPS:
        mapping = node.get(key)
        if isinstance(mapping, dict):
            for name, item in mapping.items():
                if isinstance(item, dict):
                    yield f"{pointer}/{key}/{_escape(name)}", item


def _schemas(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every object in the schema with its JSON pointer."""
    if isinstance(node, dict):
        yield pointer, node
        for key, child in node.items():
            yield from _schemas(child, f"{pointer}/{_escape(str(key))}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _schemas(child, f"{pointer}/{index}")


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
