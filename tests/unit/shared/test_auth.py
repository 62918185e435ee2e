import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth import (
    AGENT_TOKEN_AUDIENCE,
    generate_api_key,
    hash_api_key,
    issue_agent_token,
    verify_agent_token,
)
from shared.errors import UnauthorizedError

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def token(**claims: object) -> str:
    now = datetime.now(UTC)
    body = {
        "sub": str(uuid.uuid4()),
        "role": "agent",
        "aud": AGENT_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET)


class TestAgentTokens:
    def test_issued_token_verifies(self):
        agent_id = uuid.uuid4()
        assert (
            verify_agent_token(
                issue_agent_token(agent_id, secret=SECRET), secret=SECRET
            ).agent_id
            == agent_id
        )

    @pytest.mark.parametrize(
        "claims",
        [
            {"exp": None},
            {"role": "tenant"},
            {"role": None},
            {"aud": "someone-else"},
            {"exp": datetime.now(UTC) - timedelta(seconds=5)},
        ],
    )
    def test_bad_claims_rejected(self, claims: dict[str, object]):
        with pytest.raises(UnauthorizedError):
            verify_agent_token(token(**claims), secret=SECRET)

    def test_other_secret_rejected(self):
        with pytest.raises(UnauthorizedError):
            verify_agent_token(token(), secret=SECRET + "x")

    def test_verified_token_still_expires(self):
        expires_at = int(time.time()) + 1
        signed = token(exp=expires_at)
        verify_agent_token(signed, secret=SECRET)
        time.sleep(expires_at - time.time() + 0.05)
        with pytest.raises(UnauthorizedError, match="expired"):
            verify_agent_token(signed, secret=SECRET)

    def test_verified_token_rejected_under_another_secret(self):
        signed = token()
        verify_agent_token(signed, secret=SECRET)
        with pytest.raises(UnauthorizedError):
            verify_agent_token(signed, secret=SECRET + "x")


class TestApiKeys:
    def test_key_has_visible_prefix_and_digest(self):
        key = generate_api_key(uuid.uuid4())
        assert key.key.startswith(key.prefix + "_")
        assert key.key_hash == hash_api_key(key.key)
        assert key.key not in key.key_hash
