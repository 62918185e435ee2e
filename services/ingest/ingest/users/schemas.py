"""Bodies of the login, token and user endpoints."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from shared.permissions import Role
from shared.schemas import RequestModel, visible_name


class LoginIn(RequestModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")
    refresh_token: str = Field(
        description="Swap it once at POST /auth/refresh for a new pair."
    )
    refresh_expires_in: int
    user_id: UUID
    tenant_id: UUID
    role: Role


EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class UserIn(RequestModel):
    email: str = Field(
        max_length=320, pattern=EMAIL_PATTERN, examples=["ana.torres@financiera.mx"]
    )
    name: visible_name(200)
    role: Role
    password: str = Field(
        min_length=12,
        max_length=256,
        description="At least 12 characters; the user may change it later.",
    )


class UserPatch(RequestModel):
    role: Role | None = None
    disabled: bool | None = Field(
        default=None, description="true ends the user's sessions and blocks login."
    )


class UserOut(BaseModel):
    user_id: UUID
    email: str
    name: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None


class UserList(BaseModel):
    items: list[UserOut]


class JwkSet(BaseModel):
    keys: list[dict[str, str]]
