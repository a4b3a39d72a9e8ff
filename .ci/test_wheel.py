#!/usr/bin/env python3
"""Run the suite against the built wheel installed in a fresh venv, not against this checkout.

    python .ci/test_wheel.py dist/ [pytest arguments...]

A new user gets what the wheel ships, and only that: a template or any other file missing from
it fails here as it would fail them. Steps, in a temporary folder:

1. a fresh venv; the wheel alone installed in it; ``pip check``, and ``postmark`` imported from
   its site-packages with its dependencies (install_requires is enough without the test extras);
2. the wheel's ``test`` extra added (the package itself is never installed editable);
3. a copy of tests/ and setup.cfg (for the ``[tool:pytest]`` settings: ``pythonpath = .`` puts
   the copy on sys.path, and it has no postmark/), where pytest runs every test not marked
   ``checkout`` (they need the example project, README, docs/ or .ci, which no wheel carries), with
   POSTMARK_TEST_EXPECT_INSTALLED=1: tests/test_ci.py then fails unless ``postmark``, its
   templates and its pytest plugin came from the wheel.

The venv is made with the Python running this script. Exit status: pytest's, or 1 before it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
#: Run in the venv from a folder without postmark/: fails unless the wheel's package is found.
IMPORT_CHECK = """
import sysconfig, pathlib, postmark, django_tasks
site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
where = pathlib.Path(postmark.__file__).resolve()
assert where.is_relative_to(site), f"postmark imported from {where}, not from {site}"
print("installed wheel:", postmark.__version__, where)
"""


def run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env, cwd=cwd)


def main(dist: Path, pytest_args: list[str]) -> int:
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        print(f"test_wheel: expected one wheel in {dist}, found {wheels}", file=sys.stderr)
        return 1
    wheel = wheels[0].resolve()
    # Nothing from the caller's environment may point back at the checkout.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("VIRTUAL_ENV", None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="postmark-wheel-") as temporary:
        work = Path(temporary)
        venv, copy = work / "venv", work / "run"
        python = str(venv / "bin" / "python")
        run([sys.executable, "-m", "venv", str(venv)], env=env)
        run([python, "-m", "pip", "install", "--quiet", str(wheel)], env=env)
        run([python, "-m", "pip", "check"], env=env)
        run([python, "-c", IMPORT_CHECK], cwd=work, env=env)
        run([python, "-m", "pip", "install", "--quiet", f"{wheel}[test]"], env=env)
        installed = time.monotonic()

        shutil.copytree(
            CHECKOUT / "tests",
            copy / "tests",
            ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"),
        )
        shutil.copy2(CHECKOUT / "setup.cfg", copy / "setup.cfg")
        assert not (copy / "postmark").exists()
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not checkout"]
        print("+", " ".join(command + pytest_args), f"(in {copy})", flush=True)
        done = subprocess.run(
            [*command, *pytest_args],
            cwd=copy,
            env={**env, "POSTMARK_TEST_EXPECT_INSTALLED": "1"},
            check=False,
        )
    finished = time.monotonic()
    print(
        f"test_wheel: venv and installs {installed - started:.0f} s, "
        f"tests {finished - installed:.0f} s, exit status {done.returncode}"
    )
    return done.returncode


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.exit(main(Path(arguments[0] if arguments else "dist"), arguments[1:]))
