"""What the example trusts on one machine only: the local sandbox, and secrets it makes itself.

Nothing here may hold a fixed secret: examples get copied to production, so a default that works
out of the box must be random and kept beside the database, never a string in the repository.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit


def is_local_sandbox(api_url: str) -> bool:
    """True when the API is on this machine (the sandbox of ``make demo``), not Postmark."""
    host = (urlsplit(api_url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def kept_secret(path: Path, nbytes: int = 32) -> str:
    """A random secret made on first use and read back afterwards, from a file only its owner
    may read (0600). Two processes starting at once agree: the file is created exclusively."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process may be between creating and writing it: wait for the text.
        for _ in range(50):
            text = path.read_text(encoding="ascii").strip()
            if text:
                return text
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it to make a new secret.") from None
    secret = secrets.token_urlsafe(nbytes)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secret + "\n")
    return secret
