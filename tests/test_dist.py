""".ci/check_dist.py, run on small archives made here: it names every file git tracks under
postmark/ that the wheel or the sdist lacks (whatever its kind or depth), and every file there
that git does not track; it never passes for want of a file list."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.checkout


@pytest.fixture(scope="module")
def check_dist() -> ModuleType:
    """.ci/check_dist.py, which is a script, not a module of the package."""
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / ".ci" / "check_dist.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: A package like ours: modules, migrations, and data files of several kinds and depths.
PACKAGE = [
    "postmark/__init__.py",
    "postmark/py.typed",
    "postmark/migrations/0001_initial.py",
    "postmark/templates/admin/postmark/overview.html",
    "postmark/templates/admin/postmark/suppression/suppress.html",
    "postmark/static/postmark/overview.css",
    "postmark/locale/fr/LC_MESSAGES/django.po",
]
DATA_FILES = [name for name in PACKAGE if not name.endswith(".py")]
METADATA = "Metadata-Version: 2.1\nName: django-postmark\nVersion: 1.0.0\nProject-URL: Source, https://example.com/\n"


def checkout(folder: Path, files: list[str]) -> Path:
    """A git checkout whose index holds these files (git ls-files reads the index)."""
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"# {name}\n", encoding="utf-8")
    subprocess.run(["git", "-C", str(folder), "add", "--", *files], check=True)
    return folder


def archives(folder: Path, *, wheel: list[str], sdist: list[str]) -> Path:
    """A wheel and an sdist of django-postmark 1.0.0 carrying these package files."""
    folder.mkdir()
    info = "django_postmark-1.0.0.dist-info"
    with zipfile.ZipFile(folder / "django_postmark-1.0.0-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{info}/METADATA", METADATA)
        archive.writestr(f"{info}/licenses/LICENSE", "BSD")
        for name in wheel:
            archive.writestr(name, f"# {name}\n")
    with tarfile.open(folder / "django_postmark-1.0.0.tar.gz", "w:gz") as archive:
        for name in ["LICENSE", "PKG-INFO", *sdist]:
            data = f"# {name}\n".encode()
            member = tarfile.TarInfo(f"django_postmark-1.0.0/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return folder


def test_archives_with_every_file_pass(check_dist: ModuleType, tmp_path: Path) -> None:
    # The archives below differ from these by the one file left out, and by nothing else.
    repo = checkout(tmp_path / "repo", PACKAGE)
    dist = archives(tmp_path / "dist", wheel=PACKAGE, sdist=PACKAGE)
    assert check_dist.main(dist, repo) == []


@pytest.mark.parametrize("archive", ["wheel", "sdist"])
@pytest.mark.parametrize("missing", DATA_FILES)
def test_a_data_file_left_out_of_one_archive_is_named(
    check_dist: ModuleType, tmp_path: Path, missing: str, archive: str
) -> None:
    repo = checkout(tmp_path / "repo", PACKAGE)
    short = [name for name in PACKAGE if name != missing]
    dist = archives(tmp_path / "dist", **{"wheel": PACKAGE, "sdist": PACKAGE, archive: short})
    problems = check_dist.main(dist, repo)
    # py.typed is also among the files the wheel is checked for by name: said twice, no harm.
    assert f"the {archive} lacks {missing}" in problems
    assert all(missing in problem for problem in problems)


#: File and folder names git, zip and tar all keep as they are: any letter, digit, space, dot.
NAMES = st.text(
    st.characters(categories=["L", "N"], include_characters=" -_.", max_codepoint=0x2FFF),
    min_size=1,
    max_size=20,
).filter(lambda name: name.strip(".") == name and name.strip() == name)


@given(folders=st.lists(NAMES, max_size=4), name=NAMES, archive=st.sampled_from(["wheel", "sdist"]))
def test_a_file_added_later_anywhere_in_the_package_is_required(
    check_dist: ModuleType,
    tmp_path_factory: pytest.TempPathFactory,
    folders: list[str],
    name: str,
    archive: str,
) -> None:
    # No list of today's files: a template, a static file or a translation added later, at any
    # depth and with any name, is required as soon as git tracks it.
    added = "/".join(["postmark", *folders, name])
    # Not a file already there, nor one where a folder is or below a file.
    assume(added not in PACKAGE)
    assume(
        not any(
            f"{known}/".startswith(f"{added}/") or added.startswith(f"{known}/")
            for known in PACKAGE
        )
    )
    base = tmp_path_factory.mktemp("added")
    repo = checkout(base / "repo", [*PACKAGE, added])
    complete = {"wheel": [*PACKAGE, added], "sdist": [*PACKAGE, added]}
    dist = archives(base / "dist", **{**complete, archive: PACKAGE})
    assert check_dist.main(dist, repo) == [f"the {archive} lacks {added}"]


def test_a_file_git_does_not_track_is_named_where_it_ships(
    check_dist: ModuleType, tmp_path: Path
) -> None:
    # A stray of the builder's working tree (notes, a local settings file) must not ship.
    repo = checkout(tmp_path / "repo", PACKAGE)
    stray = "postmark/local_notes.txt"
    dist = archives(tmp_path / "dist", wheel=[*PACKAGE, stray], sdist=PACKAGE)
    assert check_dist.main(dist, repo) == [f"the wheel carries {stray}, which git does not track"]


def test_without_a_list_of_the_packages_files_the_check_fails(
    check_dist: ModuleType, tmp_path: Path
) -> None:
    dist = archives(tmp_path / "dist", wheel=PACKAGE, sdist=PACKAGE)
    not_a_checkout = tmp_path / "plain"
    not_a_checkout.mkdir()
    assert check_dist.main(dist, not_a_checkout) != []
    empty = checkout(tmp_path / "empty", [])
    assert check_dist.main(dist, empty) == [f"git tracks no file under postmark/ in {empty}"]


def test_this_checkouts_list_holds_the_admin_templates(check_dist: ModuleType) -> None:
    tracked = check_dist.package_files(ROOT)
    assert "postmark/templates/admin/postmark/overview.html" in tracked
    assert "postmark/templates/admin/postmark/suppression/suppress.html" in tracked
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in tracked)
