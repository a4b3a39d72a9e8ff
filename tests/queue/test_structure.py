"""The sending and queue modules import in any order: no circle between them (and none hidden
by imports inside functions, which would show here as a failed first import)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import postmark

# The ends of the circle there was (backends <-> tasks), and the worker between them.
MODULES = [
    "postmark.backends",
    "postmark.tasks",
    "postmark.queue.worker",
    "postmark.queue.queueing",
    "postmark.sending.send_loop",
    "postmark.sending.batches",
]
ROOT = Path(__file__).resolve().parents[2]
#: The sources of the package that is imported (the wheel's, in make test-wheel).
PACKAGE = Path(postmark.__file__).parent


@pytest.mark.parametrize("module", MODULES)
def test_each_module_can_be_imported_first(module: str) -> None:
    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'; "
        f"django.setup(); import {module}"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_task_keeps_its_documented_path() -> None:
    from postmark.tasks import send_queued_batch

    assert send_queued_batch.module_path == "postmark.tasks.send_queued_batch"


#: The send path's modules, where an import inside a function would hide a circle.
SENDING_MODULES = sorted(
    str(path.relative_to(PACKAGE))
    for folder in ("sending", "queue", "client")
    for path in (PACKAGE / folder).glob("*.py")
) + [
    name
    for name in (
        "backends.py",
        "exceptions.py",
        "message.py",
        "results.py",
        "tasks.py",
    )
    if (PACKAGE / name).exists()
]


@pytest.mark.parametrize("path", SENDING_MODULES)
def test_no_import_hides_inside_a_function(path: str) -> None:
    tree = ast.parse((PACKAGE / path).read_text())
    hidden = [
        f"line {node.lineno}"
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert hidden == [], f"postmark/{path} imports inside a function at {', '.join(hidden)}"
