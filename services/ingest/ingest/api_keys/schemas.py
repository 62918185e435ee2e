"""Request and response bodies of the tenant's API key endpoints."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from shared.permissions import DEFAULT_KEY_SCOPES, parse_scopes, stored_scopes
from shared.schemas import RequestModel, visible_name


class ApiKeyIn(RequestModel):
    name: visible_name(200) | None = Field(
        default=None,
        description="What the key is for, such as 'ERP nightly sync'.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: stored_scopes(DEFAULT_KEY_SCOPES),
        max_length=50,
        description=(
            "What the key may do. Default: every scope except keys:manage, "
            "users:manage and audit:read. A key can grant only scopes the "
            "calling key holds."
        ),
    )

    @field_validator("scopes")
    @classmethod
    def scopes_known(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("scopes is empty; a key needs at least one scope")
        return stored_scopes(parse_scopes(value))


class ApiKeyOut(BaseModel):
    key_id: UUID
    prefix: str = Field(description="The key's visible start, to tell keys apart.")
    name: str | None
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="Last use seen by ingest, to the minute (not by other services)."
    )
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The key itself, shown only in this response.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
