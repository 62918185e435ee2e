"""Request body building blocks: unknown fields and blank or NUL text rejected."""

import unicodedata
from typing import Annotated, Any

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError


class RequestModel(BaseModel):
    """A request body that rejects fields it does not define.

    A misspelt field (`municipality` for `municipalities`) would otherwise be
    dropped without a word and the request would do something else than meant.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def reject_unknown_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict) or cls.model_config.get("extra") != "forbid":
            return data
        valid = _accepted_names(cls)
        unknown = [str(name) for name in data if name not in valid]
        if unknown:
            raise PydanticCustomError(
                "extra_forbidden",
                "unknown field {unknown}; the valid fields are {valid}; check the "
                "spelling or remove it",
                {"unknown": ", ".join(unknown), "valid": ", ".join(sorted(valid))},
            )
        return data


def _accepted_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        if field.alias:
            names.add(field.alias)
        if not field.alias or model.model_config.get("populate_by_name"):
            names.add(name)
    return names


def _reject_nul(value: str, info: ValidationInfo) -> str:
    # PostgreSQL text cannot store NUL, so it is rejected here with the field
    # name instead of failing later in the database.
    if "\x00" in value:
        raise PydanticCustomError(
            "nul_character",
            "{field} contains a NUL character (\\x00); remove it",
            {"field": info.field_name or "the value"},
        )
    return value


def _trim_required(value: str, info: ValidationInfo) -> str:
    value = _reject_nul(value, info).strip()
    if not value:
        raise PydanticCustomError(
            "empty_text",
            "{field} is empty after trimming spaces; give a value",
            {"field": info.field_name or "the value"},
        )
    return reject_direction_controls(reject_invisible(value, info), info)


# Embeddings, overrides and isolates: U+202E turns "\u202egpj.exe" into
# what a screen shows as "exe.jpg". Uploads remove them from cells; a name
# typed into the API is rejected instead, so that what is stored is what the
# caller sees.
_DIRECTION_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def reject_direction_controls(value: str, info: ValidationInfo) -> str:
    """Reject text holding a Unicode bidirectional embedding, override or isolate."""
    found = next((char for char in value if char in _DIRECTION_CONTROLS), None)
    if found is not None:
        raise PydanticCustomError(
            "direction_control",
            "{field} contains the bidirectional control {code}, which makes "
            "the text display in another order than it is stored; remove it",
            {"field": info.field_name or "the value", "code": f"U+{ord(found):04X}"},
        )
    return value


# Unicode categories that draw nothing on their own: format characters (the
# zero-width space and joiners, direction marks), controls, separators,
# combining marks, private use and unassigned code points.
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that render as blank space although their category
# suggests otherwise: Hangul fillers and the blank Braille pattern.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_visible_char(char: str) -> bool:
    """Tell whether `char` shows something on screen by itself."""
    if char.isspace() or char in _BLANK_LOOKING:
        return False
    return unicodedata.category(char) not in _UNSEEN_CATEGORIES


def reject_invisible(value: str, info: ValidationInfo) -> str:
    """Reject text made only of spaces and characters that show nothing.

    A name of one zero-width space passes a plain strip() yet reads as
    empty in every list and log, so such a name is refused here.
    """
    if not any(is_visible_char(char) for char in value):
        raise PydanticCustomError(
            "invisible_text",
            "{field} shows no visible character (only spaces or invisible "
            "characters such as the zero-width space U+200B); write visible text",
            {"field": info.field_name or "the value"},
        )
    return value


def visible_name(max_length: int) -> Any:
    """Return the type of a required name: trimmed, spaces collapsed, visible."""
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length),
        AfterValidator(_trim_required),
        AfterValidator(_collapse_spaces),
    ]


def _collapse_spaces(value: str) -> str:
    return " ".join(value.split())


def required_text(max_length: int) -> Any:
    """A required string, trimmed, that must not be empty or hold a NUL."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length),
        AfterValidator(_trim_required),
    ]


def free_text(max_length: int) -> Any:
    """An optional note or label: any text up to `max_length`, without NUL."""
    return Annotated[
        str, StringConstraints(max_length=max_length), AfterValidator(_reject_nul)
    ]


# ISO 4217 codes for things that are not money a debt is owed in: precious
# metals, bond-market units, the SDR, the testing code and "no currency".
NOT_MONEY_CODES = frozenset(
    {
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XDR",
        "XPD",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
    }
)


def currency_problem(code: str) -> str | None:
    """Explain why `code` is not a currency an amount can be in, or return None."""
    if len(code) != 3 or not code.isascii() or not code.isupper():
        return (
            f"{code[:20]!r} is not a currency code; use three capital letters, "
            "such as MXN"
        )
    if code in NOT_MONEY_CODES or pycountry.currencies.get(alpha_3=code) is None:
        return (
            f"{code} is not an ISO 4217 currency in use; use the code of the "
            "currency the amount is in, such as MXN, USD or COP"
        )
    return None


def _check_currency(value: str) -> str:
    problem = currency_problem(value)
    if problem is not None:
        raise PydanticCustomError("currency_code", problem)
    return value


CurrencyCode = Annotated[str, AfterValidator(_check_currency)]
