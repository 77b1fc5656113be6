"""Device secrets: PBKDF2-SHA512 hashes in Mosquitto's `$7$` format.

The same string is kept in the database and written into the broker's password file, so the broker
can check a device's password without pitcall ever storing the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

HASH_ITERATIONS = 20_000
SALT_BYTES = 12


class SecretFormatError(ValueError):
    """A stored hash that is not in Mosquitto's `$7$` format."""


def new_secret() -> str:
    """Return a fresh random device secret (shown once, never stored)."""
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, *, iterations: int = HASH_ITERATIONS, salt: bytes | None = None) -> str:
    """Hash a secret as `$7$iterations$salt$hash` (Mosquitto 2 password-file format)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Check a secret against a stored hash in constant time."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        raise SecretFormatError("stored secret hash is not in $7$ format")
    salt = base64.b64decode(parts[3])
    expected = hash_secret(secret, iterations=int(parts[2]), salt=salt)
    return hmac.compare_digest(expected, stored)
