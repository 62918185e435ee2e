import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth import verify_agent_token
from shared.errors import UnauthorizedError
from shared.permissions import Role
from shared.tokens import (
    issue_user_token,
    looks_like_jwt,
    new_signing_key,
    token_key_id,
    verify_user_token,
)

USER, TENANT = uuid.uuid4(), uuid.uuid4()


def token(now: datetime | None = None, ttl: timedelta = timedelta(minutes=15)) -> tuple:
    """Sign a director's token issued at `now` (the moment of the call by default)."""
    now = now or datetime.now(UTC)
    key = new_signing_key()
    issued = issue_user_token(
        key, user_id=USER, tenant_id=TENANT, role=Role.DIRECTOR, now=now, ttl=ttl
    )
    return key, issued


def test_round_trip_keeps_claims() -> None:
    key, issued = token()

    claims = verify_user_token(issued, key.public_jwk())

    assert claims.user_id == USER
    assert claims.tenant_id == TENANT
    assert claims.role is Role.DIRECTOR
    assert token_key_id(issued) == key.kid


def test_public_jwk_is_okp_ed25519() -> None:
    key = new_signing_key()

    jwk = key.public_jwk()

    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["alg"] == "EdDSA"
    assert "d" not in jwk


def test_other_key_rejected() -> None:
    _, issued = token()

    with pytest.raises(UnauthorizedError, match="invalid access token"):
        verify_user_token(issued, new_signing_key().public_jwk())


def test_expired_token_names_refresh() -> None:
    key, issued = token(now=datetime.now(UTC) - timedelta(hours=1))

    with pytest.raises(UnauthorizedError, match="/auth/refresh"):
        verify_user_token(issued, key.public_jwk())


def test_tampered_claims_rejected() -> None:
    key, issued = token()
    header, _, signature = issued.split(".")
    forged_body = jwt.utils.base64url_encode(
        b'{"sub":"%s","tenant_id":"%s","role":"tenant_admin","iss":"campo",'
        b'"aud":"campo-user","iat":1,"exp":9999999999}'
        % (str(USER).encode(), str(uuid.uuid4()).encode())
    ).decode()

    with pytest.raises(UnauthorizedError):
        verify_user_token(f"{header}.{forged_body}.{signature}", key.public_jwk())


def test_hs256_token_not_a_user_token() -> None:
    agent_like = jwt.encode({"sub": "x"}, "s" * 40, algorithm="HS256")

    with pytest.raises(UnauthorizedError, match="POST /auth/login"):
        token_key_id(agent_like)


@pytest.mark.parametrize(
    ("credential", "is_jwt"),
    [("ck_1a2b3c4d_secret", False), ("a.b.c", True), ("a.b", False)],
)
def test_tells_tokens_from_keys(credential: str, is_jwt: bool) -> None:
    assert looks_like_jwt(credential) is is_jwt


def test_person_token_on_agent_endpoint() -> None:
    _, issued = token()

    with pytest.raises(UnauthorizedError) as raised:
        verify_agent_token(issued, secret="s" * 40)

    assert "needs an agent's token" in raised.value.detail
    assert "person's access token" in raised.value.detail


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        ("not.a.jwt", "not a well-formed JWT"),
        ("a.b", "not a well-formed JWT"),
    ],
)
def test_malformed_access_token_named_in_plain_words(
    credential: str, expected: str
) -> None:
    with pytest.raises(UnauthorizedError, match=expected):
        token_key_id(credential)
