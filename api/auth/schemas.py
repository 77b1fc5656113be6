"""Bodies of the auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from api.tenancy import Role

Username = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, Field(min_length=10, max_length=200, description="10 to 200 characters")]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class MeOut(BaseModel):
    kind: str
    id: int
    name: str
    role: Role
    group_id: int
    store_id: int | None
    store_ids: list[int]
    language: str


class UserIn(BaseModel):
    username: Username
    password: Password
    role: Role
    store_id: int | None = Field(None, description="required for every role but group_admin")
    display_name: str = Field("", max_length=200)
    language: str = Field("zh", pattern="^(zh|en)$")


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    store_id: int | None


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["CRM"])
    store_id: int | None = Field(None, description="the key's store; null for every store of the group")


class ApiKeyOut(BaseModel):
    id: int
    name: str
    store_id: int | None
    key: str | None = Field(None, description="the key itself, shown only in the response that created it")


def person_problems(*, username: str, password: str) -> list[str]:
    """What breaks the API's rules for a username and a password (the CLI applies the same)."""
    problems = []
    for name, kind, value in (("username", Username, username), ("password", Password, password)):
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError as exc:
            problems += [f"{name}: {error['msg']}" for error in exc.errors()]
    return problems
