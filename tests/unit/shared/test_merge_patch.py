from typing import Any

import pytest

from shared.merge_patch import apply_merge_patch


class TestApplyMergePatch:
    @pytest.mark.parametrize(
        ("target", "patch", "expected"),
        [
            ({"a": 1, "b": 2}, {"a": 5}, {"a": 5, "b": 2}),
            ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
            ({"a": 1}, {"c": 3}, {"a": 1, "c": 3}),
            ({"a": {"x": 1, "y": 2}}, {"a": {"x": None}}, {"a": {"y": 2}}),
            ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
            ({"a": 1}, {}, {"a": 1}),
            ({"a": 1}, 5, 5),
            ({"a": 1}, ["a"], ["a"]),
            (None, {"a": {"b": None}}, {"a": {}}),
        ],
    )
    def test_rfc_cases(self, target: Any, patch: Any, expected: Any) -> None:
        assert apply_merge_patch(target, patch) == expected

    def test_target_left_unchanged(self) -> None:
        target = {"a": {"x": 1}}

        apply_merge_patch(target, {"a": {"x": 2}})

        assert target == {"a": {"x": 1}}
