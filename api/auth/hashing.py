"""Password hashing (argon2id) with a bound on how many hashes run at once in this process.

Each argon2 hash of the default profile (RFC 9106 low-memory: 64 MiB, 3 passes) holds 64 MiB while it
runs: without a bound, N parallel log-ins take N × 64 MiB (issue 18: 8 took the API from 215 to 728 MB).
A caller waits at most `wait_s` for a slot, then gets 503 with Retry-After (the request's thread is
not held longer than that).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.errors import ApiError


class HashingBusy(ApiError):  # noqa: N818 (named for what the caller sees)
    status = 503
    code = "busy"

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "1"}


class PasswordHashing:
    """argon2id hashes and checks, at most `concurrency` at once; `counter` (a Prometheus Counter) counts them."""

    def __init__(self, *, concurrency: int, wait_s: float, counter: Any = None) -> None:
        self._hasher = PasswordHasher()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._wait_s = wait_s
        self._counter = counter
        self._dummy: str | None = None

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait_s):
            raise HashingBusy("too many log-ins at once; try again in a second")
        try:
            if self._counter is not None:
                self._counter.inc()
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        with self._slot():
            return self._hasher.hash(password)

    def verify(self, password: str, stored: str) -> bool:
        """Tell whether `password` matches the stored hash (False for a malformed hash)."""
        with self._slot():
            try:
                return self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

    def waste_time(self, password: str) -> None:
        """Do the work of a real check against a hash of nothing (an unknown user takes as long)."""
        if self._dummy is None:
            self._dummy = self.hash("pitcall-no-such-user")
        self.verify(password, self._dummy)
