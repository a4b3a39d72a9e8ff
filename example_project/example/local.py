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

import requests


def is_local_sandbox(api_url: str) -> bool:
    """True when the API is on this machine (the sandbox of ``make demo``), not Postmark."""
    host = (urlsplit(api_url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_fault(api_url: str, fault: str) -> None:
    """Have the local sandbox at ``api_url`` play ``fault`` (``postmark.sandbox.faults``) on its
    next sending call that has none planned yet, withholding the webhooks of the messages it
    accepts, so that only settling's search can tell whether they went. ``ValueError`` for any
    other API (real Postmark knows no such thing); ``requests.RequestException`` if the sandbox
    did not take it."""
    if not is_local_sandbox(api_url):
        raise ValueError("Faults are played by the local sandbox only.")
    control = api_url.rstrip("/") + "/sandbox/faults"
    with requests.Session() as session:
        session.trust_env = False  # straight to this machine: no proxy from the environment
        # Added after what is planned (the plan is replaced whole): two buttons pressed before
        # the worker sends get a call each, in the order pressed.
        planned = session.get(control, timeout=5, allow_redirects=False)
        planned.raise_for_status()
        faults = [*planned.json()["Faults"], fault]
        body = {"Faults": faults, "Webhooks": False}
        session.put(control, json=body, timeout=5, allow_redirects=False).raise_for_status()


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
