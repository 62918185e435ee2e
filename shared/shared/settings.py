"""Settings every service shares; each service subclasses them with its own prefix."""

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.edges import parse_cors_origins

DEVELOPMENT_TOKEN_SECRET = "development-only-agent-token-secret-change-me"
DEVELOPMENT_DATABASE_PASSWORD = "campo:campo@"
# Secrets that may come from a file named by `<VARIABLE>_FILE`, as container
# orchestrators mount them, instead of from the variable itself. The map goes
# from each variable to the key of its value in the settings input.
SECRET_VARIABLES = {
    "AGENT_TOKEN_SECRET": "AGENT_TOKEN_SECRET",
    "DATABASE_URL": "DATABASE_URL",
}


def common_alias(name: str) -> AliasChoices:
    """Read a shared setting from its plain name, e.g. DATABASE_URL, with no prefix."""
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """Connection and security settings read from the environment.

    DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX, CAMPO_ENVIRONMENT
    and AGENT_TOKEN_SECRET are common to all services; a subclass adds its own
    fields under its env prefix (INGEST_, MATCHING_, VISITS_, REPORTING_).
    """

    # Validation errors never echo input values, which include secrets.
    model_config = SettingsConfigDict(
        extra="ignore", env_file=None, hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=common_alias("CAMPO_ENVIRONMENT")
    )
    database_url: str = Field(
        default="postgresql+asyncpg://campo:campo@127.0.0.1:55432/campo",
        validation_alias=common_alias("DATABASE_URL"),
    )
    database_pool_size: int = Field(
        default=5, ge=1, validation_alias=common_alias("DATABASE_POOL_SIZE")
    )
    database_pool_pre_ping: bool = Field(
        default=False,
        validation_alias=common_alias("DATABASE_POOL_PRE_PING"),
        description=(
            "Test each pooled connection with a round trip before use. Off, a "
            "connection the server closed answers one request with a 503."
        ),
    )
    database_role: str = Field(
        default="campo_app",
        min_length=1,
        validation_alias=common_alias("DATABASE_ROLE"),
        description=(
            "Role each connection switches to (SET ROLE). It must be neither a "
            "superuser nor a table owner, or row-level security does not apply."
        ),
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:59092",
        validation_alias=common_alias("KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        validation_alias=common_alias("KAFKA_TOPIC_PREFIX"),
        description="Prepended to every topic name, so that test runs stay apart.",
    )
    agent_token_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_TOKEN_SECRET),
        validation_alias=common_alias("AGENT_TOKEN_SECRET"),
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        validation_alias=common_alias("MAX_REQUEST_BYTES"),
        description="Largest request body in bytes; file uploads have their own.",
    )
    cors_origins: str = Field(
        default="",
        validation_alias=common_alias("CAMPO_CORS_ORIGINS"),
        description=(
            "Comma-separated origins of the director portal that browsers may "
            "call the APIs from, e.g. https://portal.example.mx; empty turns CORS off."
        ),
    )
    rate_limit_api_key_per_minute: int = Field(
        default=3000,
        ge=0,
        validation_alias=common_alias("RATE_LIMIT_API_KEY_PER_MINUTE"),
        description="Requests per minute per API key, per service process; 0 is off.",
    )
    rate_limit_api_key_burst: int = Field(
        default=300, ge=1, validation_alias=common_alias("RATE_LIMIT_API_KEY_BURST")
    )
    rate_limit_agent_per_minute: int = Field(
        default=300,
        ge=0,
        validation_alias=common_alias("RATE_LIMIT_AGENT_PER_MINUTE"),
        description="Requests per minute per agent, per service process; 0 is off.",
    )
    rate_limit_agent_burst: int = Field(
        default=60, ge=1, validation_alias=common_alias("RATE_LIMIT_AGENT_BURST")
    )
    log_level: str = Field(default="INFO", validation_alias=common_alias("LOG_LEVEL"))
    outbox_poll_interval_seconds: float = Field(
        default=0.2, gt=0, validation_alias=common_alias("OUTBOX_POLL_INTERVAL_SECONDS")
    )
    consumer_max_attempts: int = Field(
        default=5,
        ge=1,
        validation_alias=common_alias("CONSUMER_MAX_ATTEMPTS"),
        description="Attempts at one event before it goes to the dead-letter topic.",
    )
    consumer_retry_backoff_seconds: float = Field(
        default=0.5,
        ge=0,
        validation_alias=common_alias("CONSUMER_RETRY_BACKOFF_SECONDS"),
    )

    # A subclass adds its own secrets, such as INGEST_SIGNING_KEY_SECRET.
    secret_variables: ClassVar[dict[str, str]] = SECRET_VARIABLES

    @model_validator(mode="before")
    @classmethod
    def read_secret_files(cls, data: Any) -> Any:
        """Fill each secret missing from the environment from its `_FILE` path."""
        if not isinstance(data, dict):
            return data
        for variable, key in cls.secret_variables.items():
            path = os.environ.get(f"{variable}_FILE")
            if path and key not in data:
                data = {**data, key: _read_secret_file(variable, path)}
        return data

    @model_validator(mode="after")
    def reject_development_secret_in_production(self) -> "ServiceSettings":
        secret = self.agent_token_secret.get_secret_value()
        if self.environment == "production" and secret == DEVELOPMENT_TOKEN_SECRET:
            raise ValueError(
                "AGENT_TOKEN_SECRET is the development default; set a random secret "
                "of at least 32 characters before running in production"
            )
        if self.environment == "production" and (
            DEVELOPMENT_DATABASE_PASSWORD in self.database_url
        ):
            raise ValueError(
                "DATABASE_URL uses the development user and password campo:campo; "
                "set the production database's own credentials"
            )
        if len(secret) < 32:
            raise ValueError(
                f"AGENT_TOKEN_SECRET is {len(secret)} characters long; it must be "
                "at least 32, for example the output of `openssl rand -hex 32`"
            )
        return self

    @model_validator(mode="after")
    def check_cors_origins(self) -> "ServiceSettings":
        self.allowed_cors_origins()
        return self

    def allowed_cors_origins(self) -> tuple[str, ...]:
        """Return the portal origins; http ones only outside production."""
        return parse_cors_origins(
            self.cors_origins, allow_http=self.environment != "production"
        )

    def topic(self, name: str) -> str:
        """Return the full topic name for a stream, with this deployment's prefix."""
        return f"{self.kafka_topic_prefix}{name}"


def _read_secret_file(variable: str, path: str) -> str:
    """Return a secret file's content without its trailing newline."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{variable}_FILE={path} cannot be read ({type(error).__name__}); "
            f"point it at a readable UTF-8 file, or set {variable} instead"
        ) from None
