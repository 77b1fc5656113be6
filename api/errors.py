"""API errors: one body shape for every error, `{"error": {"code", "message", "details"}}`.

Domain packages raise their own exceptions; the handlers here turn the API's own ones into responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """Base of errors that become an HTTP response with the common error body."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def headers(self) -> dict[str, str] | None:
        """Headers the response carries besides the body (e.g. Retry-After)."""
        return None


class NotFound(ApiError):  # noqa: N818 (named for the HTTP status)
    status = 404
    code = "not_found"


class Conflict(ApiError):  # noqa: N818
    status = 409
    code = "conflict"


class Forbidden(ApiError):  # noqa: N818
    status = 403
    code = "forbidden"


class Unauthorized(ApiError):  # noqa: N818
    status = 401
    code = "unauthorized"


class Invalid(ApiError):  # noqa: N818
    status = 422
    code = "invalid"


class TooLarge(ApiError):  # noqa: N818
    status = 413
    code = "too_large"


class TooManyAttempts(ApiError):  # noqa: N818
    """Refused until `retry_after_s` seconds have passed (sent as Retry-After)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"retry_after_s": retry_after_s, **(details or {})})
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "Not authenticated"),
        (403, "Role not allowed"),
        (404, "Not found (or not in your store)"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        (422, "Invalid request"),
    )
}


def _body(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(
        ErrorBody(error=ErrorDetail(code=code, message=message, details=details)).model_dump(mode="json"),
        status_code=status,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the common body."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _body(exc.status, exc.code, exc.message, exc.details, exc.headers())

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status_code, "http_error")
        return _body(exc.status_code, code, str(exc.detail))

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
            for error in exc.errors()
        ]
        return _body(422, "invalid", "the request is not valid", {"problems": problems})

    async def data_error(_: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the schema let through (an id beyond bigint, say): the caller's fault.
        assert isinstance(exc, DataError)
        return _body(422, "invalid", "a value is out of range or malformed for storage")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
