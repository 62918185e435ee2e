"""Names must show something: invisible-only text is refused, naming the field."""

import pytest
from pydantic import BaseModel, ValidationError

from shared.schemas import is_visible_char, visible_name


class Named(BaseModel):
    name: visible_name(50)


@pytest.mark.parametrize(
    "text",
    [
        "\u200b",
        "\u200b\u200c\u200d\u2060\ufeff",
        " \u200b ",
        "\u3164",
        "\u2800",
        "\u0301",
    ],
)
def test_invisible_name_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Named(name=text)

    error = raised.value.errors()[0]
    assert error["loc"] == ("name",)
    assert error["type"] in {"invisible_text", "empty_text"}
    assert "name" in error["msg"]


@pytest.mark.parametrize(
    ("text", "kept"),
    [("  Ana   Torres ", "Ana Torres"), ("José", "José"), ("李\u200b娜", "李\u200b娜")],
)
def test_visible_name_kept_with_spaces_collapsed(text: str, kept: str) -> None:
    assert Named(name=text).name == kept


def test_letters_are_visible_and_format_characters_are_not() -> None:
    assert is_visible_char("a")
    assert not is_visible_char("\u200b")
    assert not is_visible_char("\u202e")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\u202egpj.exe", "U+202E"),
        ("ERP\u202dsync", "U+202D"),
        ("Ana \u2067Torres\u2069", "U+2067"),
        ("\u202aCampaña", "U+202A"),
    ],
)
def test_direction_control_refused_naming_it(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Named(name=text)

    error = raised.value.errors()[0]
    assert error["type"] == "direction_control"
    assert code in error["msg"]
    assert error["msg"].startswith("name contains")


@pytest.mark.parametrize("text", ["عبد الله", "שרה כהן", "Ana\u200fTorres"])
def test_right_to_left_names_and_marks_kept(text: str) -> None:
    assert Named(name=text).name == text
