from typing import Any

import pytest

from ingest.campaigns.form_refs import ref_loop


def form(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **extra}


class TestLoops:
    def test_question_that_refers_to_itself(self) -> None:
        schema = form({"a": {"$ref": "#/properties/a"}})

        assert ref_loop(schema) == ["/properties/a", "/properties/a"]

    def test_two_definitions_that_refer_to_each_other(self) -> None:
        schema = form(
            {"a": {"$ref": "#/$defs/x"}},
            **{"$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"$ref": "#/$defs/x"}}},
        )

        assert ref_loop(schema) == ["/$defs/x", "/$defs/y", "/$defs/x"]

    def test_loop_through_all_of(self) -> None:
        schema = form(
            {"a": {"$ref": "#/$defs/x"}},
            **{"$defs": {"x": {"allOf": [{"type": "string"}, {"$ref": "#/$defs/x"}]}}},
        )

        assert ref_loop(schema) == ["/$defs/x", "/$defs/x/allOf/1", "/$defs/x"]

    def test_loop_through_an_anchor(self) -> None:
        schema = form(
            {"a": {"$ref": "#here"}},
            **{"$defs": {"x": {"$anchor": "here", "not": {"$ref": "#here"}}}},
        )

        assert ref_loop(schema) is not None

    def test_reference_to_the_whole_form(self) -> None:
        assert ref_loop(form({"a": {"type": "string"}}, allOf=[{"$ref": "#"}])) == [
            "",
            "/allOf/0",
            "",
        ]

    def test_escaped_names_resolve(self) -> None:
        schema = form({"a/b": {"$ref": "#/properties/a~1b"}})

        assert ref_loop(schema) == ["/properties/a~1b", "/properties/a~1b"]


class TestNoLoop:
    @pytest.mark.parametrize(
        "schema",
        [
            form({"a": {"type": "string"}}),
            form(
                {"a": {"$ref": "#/$defs/yes_no"}},
                **{"$defs": {"yes_no": {"enum": ["sí", "no"]}}},
            ),
            # A tree of answers: each level reads one level deeper, so it ends.
            form(
                {"a": {"$ref": "#/$defs/node"}},
                **{
                    "$defs": {
                        "node": {
                            "type": "object",
                            "properties": {
                                "children": {"items": {"$ref": "#/$defs/node"}}
                            },
                        }
                    }
                },
            ),
            # Two questions sharing one definition is not a loop.
            form(
                {"a": {"$ref": "#/$defs/d"}, "b": {"$ref": "#/$defs/d"}},
                **{"$defs": {"d": {"type": "integer"}}},
            ),
            # A reference to something that does not exist is the validator's to report.
            form({"a": {"$ref": "#/$defs/missing"}}),
        ],
    )
    def test_form_without_loop(self, schema: dict[str, Any]) -> None:
        assert ref_loop(schema) is None
