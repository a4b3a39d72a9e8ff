"""Running a user's own project (written to a temporary folder) in a process of its own, with
the django-postmark under test importable and nothing of this repository's tests.

The package is the one this run imports (the checkout's, or the wheel's in make test-wheel),
put first on PYTHONPATH through a folder holding only a link to it: an editable install made
from another checkout would otherwise answer ``import postmark`` there. Its pytest plugin is
still found through the installed distribution's ``pytest11`` entry point, by module name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import postmark

PACKAGE = Path(postmark.__file__).resolve().parent


def package_path(project: Path) -> Path:
    """A folder beside the project whose only entry is the package under test (outside the
    project, where its pytest would look for tests)."""
    folder = project.with_name(f"{project.name}-site")
    if not folder.exists():
        folder.mkdir()
        (folder / "postmark").symlink_to(PACKAGE, target_is_directory=True)
    return folder


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The user's own environment: none of this run's settings, paths or plugins.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTEST_ADDOPTS")
        and not key.startswith("PYTEST_")
    }
    env["PYTHONPATH"] = str(package_path(project))
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
