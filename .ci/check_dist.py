#!/usr/bin/env python3
"""Check the built sdist and wheel as an index and a new user would see them.

    python .ci/check_dist.py dist/

Fails (exit 1, saying what) unless: there is exactly one of each; LICENSE is in both; the
version sorts above 0.1.6, the 2011 release of the same name that `pip install django-postmark`
would otherwise pick; the wheel holds the package (migrations, py.typed) and nothing else; every
file git tracks under postmark/ (templates and the other non-Python files included) is in both
archives, and neither carries a file there that git does not track; the sdist holds no tests
(the suite runs from a checkout: see MANIFEST.in).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.version import Version

ORIGINAL_APP = Version("0.1.6")
WHEEL_NEEDS = ("postmark/__init__.py", "postmark/py.typed", "postmark/migrations/0001_initial.py")
PACKAGE = "postmark"
CHECKOUT = Path(__file__).resolve().parents[1]


def package_files(checkout: Path) -> set[str]:
    """Every file git tracks under postmark/ in the checkout (caches are never tracked)."""
    listed = subprocess.run(
        ["git", "-C", str(checkout), "ls-files", "-z", "--", PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        raise RuntimeError(f"git cannot list the files of {checkout}: {listed.stderr.strip()}")
    return {name for name in listed.stdout.split("\0") if name}


def compare(archive: str, shipped: set[str], tracked: set[str]) -> list[str]:
    """What the archive lacks of the package, and what it carries there that git does not track."""
    in_package = {name for name in shipped if name.startswith(f"{PACKAGE}/")}
    problems = [f"the {archive} lacks {name}" for name in sorted(tracked - in_package)]
    problems += [
        f"the {archive} carries {name}, which git does not track"
        for name in sorted(in_package - tracked)
    ]
    return problems


def main(folder: Path, checkout: Path = CHECKOUT) -> list[str]:
    wheels, sdists = sorted(folder.glob("*.whl")), sorted(folder.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"expected one wheel and one sdist in {folder}, found {wheels + sdists}"]
    try:
        tracked = package_files(checkout)
    except (OSError, RuntimeError) as error:
        return [str(error)]
    if not tracked:
        # An empty list would let every archive pass: it means a wrong checkout, not a package.
        return [f"git tracks no file under {PACKAGE}/ in {checkout}"]
    problems: list[str] = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    version = Version(metadata["Version"])
    if version <= ORIGINAL_APP:
        problems.append(f"the wheel's version {version} does not sort above {ORIGINAL_APP}")
    if not any(
        name.startswith(f"{info}/licenses/LICENSE") or name == f"{info}/LICENSE" for name in names
    ):
        problems.append(f"no LICENSE in the wheel ({info}/)")
    problems += [f"the wheel lacks {need}" for need in WHEEL_NEEDS if need not in names]
    strays = [n for n in names if not n.startswith((f"{PACKAGE}/", f"{info}/"))]
    problems += [f"the wheel carries {stray}, outside the package" for stray in strays]
    if not metadata.get_all("Project-URL"):
        problems.append("the wheel's metadata has no Project-URL")
    problems += compare("wheel", {name for name in names if not name.endswith("/")}, tracked)

    with tarfile.open(sdists[0]) as sdist:
        files = [member.name.split("/", 1)[-1] for member in sdist.getmembers() if member.isfile()]
    if "LICENSE" not in files:
        problems.append("no LICENSE at the top of the sdist")
    problems += [
        f"the sdist carries {m}" for m in files if m.startswith(("tests/", "example_project/"))
    ]
    problems += compare("sdist", set(files), tracked)
    if not problems:
        print(
            f"{wheels[0].name} and {sdists[0].name}: version {version} > {ORIGINAL_APP}, "
            f"LICENSE in both, the {len(tracked)} files git tracks under {PACKAGE}/ in both, "
            f"{len(names)} files in the wheel, no tests in the sdist."
        )
    return problems


if __name__ == "__main__":
    found = main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist"))
    for problem in found:
        print("check_dist:", problem, file=sys.stderr)
    sys.exit(1 if found else 0)
