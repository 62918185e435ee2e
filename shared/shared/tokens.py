"""Access tokens of people (directors, analysts, tenant administrators).

Ingest signs them with an Ed25519 key (JWS algorithm EdDSA) whose id is the
token's `kid`; the public half of every key travels on the tenants topic,
so each service verifies tokens from its own copy without calling ingest.
Keys rotate: the newest signs, and an older one keeps verifying until its
`retired_at`, which is set past the lifetime of the last token it signed.

Agents' tokens are different (HS256, see `shared.auth`): they belong to the
platform and carry no tenant.
"""

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.errors import UnauthorizedError
from shared.permissions import Role

USER_TOKEN_AUDIENCE = "campo-user"
USER_TOKEN_ISSUER = "campo"
ALGORITHM = "EdDSA"
# Clock difference tolerated between the service that signs and the one that
# verifies.
CLOCK_LEEWAY = timedelta(seconds=30)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.kid, self.private_key.public_key())


@dataclass(frozen=True)
class UserClaims:
    user_id: UUID
    tenant_id: UUID
    role: Role
    # The last moment the token is accepted: its `exp` plus the clock leeway.
    usable_until: datetime | None = None


def new_signing_key() -> SigningKey:
    return SigningKey(
        kid=secrets.token_urlsafe(12), private_key=Ed25519PrivateKey.generate()
    )


def public_jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    """Return the RFC 8037 JSON Web Key of an Ed25519 public key."""
    raw = public_key.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        encoding=serialization.Encoding.Raw,
        format=serialization.PrivateFormat.Raw,
        encryption_algorithm=serialization.NoEncryption(),
    )


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def issue_user_token(
    key: SigningKey,
    *,
    user_id: UUID,
    tenant_id: UUID,
    role: Role,
    now: datetime,
    ttl: timedelta,
) -> str:
    claims = {
        "sub": str(user_id),
        "tenant_id": str(tenant_id),
        "role": role.value,
        "iss": USER_TOKEN_ISSUER,
        "aud": USER_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
    )


def explain_token_error(error: Exception, *, agent: bool) -> str:
    """Say in plain words why a token was refused and what to send instead."""
    if agent:
        what, renew = "agent token", "ask the platform's operator for a new one"
    else:
        what, renew = "access token", "log in again at POST /auth/login"
    if isinstance(error, jwt.ExpiredSignatureError):
        return f"the {what} expired; {renew}"
    if isinstance(error, jwt.InvalidAlgorithmError) and agent:
        return (
            "this endpoint needs an agent's token (printed by campo-admin agent "
            "register); a person's access token works only on tenant endpoints"
        )
    if isinstance(error, jwt.InvalidAlgorithmError | jwt.InvalidSignatureError):
        return f"invalid {what}: it is not signed by this platform; {renew}"
    if isinstance(error, jwt.InvalidAudienceError | jwt.InvalidIssuerError):
        return f"invalid {what}: it was issued for another use; {renew}"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"invalid {what}: it lacks the {error.claim!r} claim; {renew}"
    if isinstance(error, jwt.ImmatureSignatureError):
        return f"invalid {what}: it is dated in the future; check the clock"
    if isinstance(error, jwt.DecodeError):
        return f"invalid {what}: it is not a well-formed JWT; {renew}"
    if isinstance(error, KeyError | ValueError):
        return f"invalid {what}: a claim is missing or malformed; {renew}"
    return f"invalid {what}; {renew}"


def token_key_id(token: str) -> str:
    """Return the `kid` of a user token's header, or raise 401."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise UnauthorizedError(explain_token_error(error, agent=False)) from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise UnauthorizedError(
            "invalid access token: it is not signed by the login service; log in "
            "again at POST /auth/login"
        )
    return kid


def verify_user_token(token: str, jwk: Mapping[str, Any]) -> UserClaims:
    """Check a user token against the public key its `kid` names."""
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=ALGORITHM).key
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=USER_TOKEN_AUDIENCE,
            issuer=USER_TOKEN_ISSUER,
            leeway=CLOCK_LEEWAY,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        return UserClaims(
            user_id=UUID(claims["sub"]),
            tenant_id=UUID(claims["tenant_id"]),
            role=Role(claims["role"]),
            usable_until=datetime.fromtimestamp(claims["exp"], UTC) + CLOCK_LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError(
            "the access token expired; get a new one at POST /auth/refresh"
        ) from None
    except (jwt.PyJWTError, KeyError, ValueError) as error:
        raise UnauthorizedError(explain_token_error(error, agent=False)) from None


def looks_like_jwt(credential: str) -> bool:
    """Tell a token (three dot-separated parts) from an API key (ck_...)."""
    return credential.count(".") == 2
