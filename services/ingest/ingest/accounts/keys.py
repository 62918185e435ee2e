"""The one rule for when two account keys name the same account.

Keys are compared after NFKC normalisation (full-width `Ｚ1` is `Z1`) and
in lower case, because a credit typed `z1` in one export and `Z1` in
another is the same credit. An account keeps the spelling its first
upload gave it. Uploads, lookups by reference, payments and campaign
selections all compare keys this way, and a unique index on
`(tenant_id, lower(account_key))` enforces it.
"""

import unicodedata
from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, literal

from ingest.models import Account


def normalize_key(key: str) -> str:
    """Return the key as it is stored: NFKC-normalised, case kept."""
    return key if key.isascii() else unicodedata.normalize("NFKC", key)


def key_form(key: str) -> str:
    """Return the form in which Python code compares keys.

    PostgreSQL lowers a key letter by letter. Python lowers `İ` to `i` with
    a combining dot and a final capital sigma to `ς`, so those two are
    folded as the database folds them (`İ1` is `i1`, `ΑΣ1` is `ασ1`).
    """
    folded = normalize_key(key).lower()
    if folded.isascii():
        return folded
    return folded.replace("i\u0307", "i").replace("ς", "σ")


# The database lowers both sides, so letters beyond ASCII compare as its
# locale lowers them, the way the unique index compares them.
def key_matches(key: str) -> ColumnElement[bool]:
    """Match the account whose key is `key` under the comparison rule."""
    return func.lower(Account.account_key) == func.lower(literal(normalize_key(key)))


def key_in(keys: Iterable[str]) -> ColumnElement[bool]:
    """Match the accounts whose keys are among `keys` under the comparison rule."""
    return func.lower(Account.account_key).in_(
        [func.lower(literal(normalize_key(key))) for key in keys]
    )
