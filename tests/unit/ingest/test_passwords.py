import pytest

from ingest.users.passwords import hash_password, password_matches, password_problem


@pytest.mark.parametrize(
    ("password", "named"),
    [
        ("short", "at least 12"),
        ("x" * 300, "longer than 256"),
        ("ana@financiera.mx", "equals the email"),
        ("aaaaaaaaaaaaaaaa", "too few characters"),
    ],
)
def test_weak_password_named(password: str, named: str) -> None:
    problem = password_problem(password, "ana@financiera.mx")

    assert problem is not None
    assert named in problem


def test_passphrase_accepted() -> None:
    assert password_problem("caballo correcto batería", "ana@financiera.mx") is None


async def test_hash_verifies_only_its_password() -> None:
    stored = await hash_password("caballo correcto batería")

    assert stored.startswith("$argon2id$")
    assert await password_matches(stored, "caballo correcto batería")
    assert not await password_matches(stored, "caballo correcto bateria")


async def test_unknown_user_never_matches() -> None:
    assert not await password_matches(None, "no user has this password")
