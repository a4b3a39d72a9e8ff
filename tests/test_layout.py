"""The package's shape, as a newcomer meets it: a short root of Django's and the public names,
each flow in a folder of its own, short modules, one name per module, no import circle, and
every import path the documentation gives still importable."""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.apps import apps

import postmark

#: The sources of the package that is imported (the wheel's, in make test-wheel).
PACKAGE = Path(postmark.__file__).parent
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts)

MAX_ROOT_MODULES = 14
MAX_LINES = 350
#: Documented import paths kept, deprecated, as thin re-exports of a module that moved (the
#: CHANGELOG documents ``postmark.operations.tasks``; the tasks live in ``postmark.tasks``).
DOCUMENTED_REEXPORTS = {"operations/tasks.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(path): path for path in MODULES}


def imported_modules(path: Path) -> set[str]:
    """The package's modules this file imports, anywhere in it (an import inside a function
    hides a circle from the interpreter, not from the reader), ``TYPE_CHECKING`` ones aside."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[: len(package) - node.level + 1]
                base = ".".join([*prefix, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in NAMES else base)
    return {module for module in found if module in NAMES and module != name}


def test_the_root_holds_at_most_fourteen_modules() -> None:
    root = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_is_longer_than_350_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)}: {lines} lines"


def test_no_module_name_is_used_twice_outside_the_sandbox() -> None:
    names = Counter(
        path.name
        for path in MODULES
        if path.name != "__init__.py"
        and "sandbox" not in path.relative_to(PACKAGE).parts
        and str(path.relative_to(PACKAGE)) not in DOCUMENTED_REEXPORTS
    )
    assert [name for name, count in names.items() if count > 1] == []


def test_no_import_circle_among_the_package_modules() -> None:
    graph = {name: imported_modules(path) for name, path in NAMES.items()}
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                circles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert circles == []


def test_the_graph_sees_imports_of_every_form() -> None:
    """The circle check reads relative, absolute and ``from . import module`` imports alike."""
    imports = imported_modules(NAMES["postmark.apps"])
    assert {"postmark.receivers", "postmark.signals", "postmark.installation.checks"} <= imports


#: Every import path README and CHANGELOG give for a name users import.
DOCUMENTED = [
    ("postmark.backends", "PostmarkBackend"),
    ("postmark.backends", "QueuedPostmarkBackend"),
    ("postmark.message", "PostmarkEmailMessage"),
    ("postmark.message", "PostmarkEmailMultiAlternatives"),
    ("postmark.message", "PostmarkResult"),
    ("postmark.message", "server_label"),
    ("postmark.results", "PostmarkResult"),
    ("postmark.merge", "LINK_KEY"),
    ("postmark.facts", "ERROR_BULK_NOT_ENABLED"),
    ("postmark.receivers", "store_sent_messages"),
    ("postmark.signals", "EVENT_SIGNALS"),
    ("postmark.conf", "SECRET_SETTINGS"),
    ("postmark.conf", "Secret"),
    ("postmark.events", "MAX_DEPTH"),
    ("postmark.events", "BOUNCE_TYPES"),
    ("postmark.exceptions", "is_safe_to_retry"),
    ("postmark.exceptions", "BulkNotEnabledError"),
    ("postmark.tasks", "send_queued_batch"),
    ("postmark.tasks", "settle_task"),
    ("postmark.signals", "message_settled"),
    ("postmark.operations.tasks", "sync_task"),
    ("postmark.operations.tasks", "purge_task"),
    ("postmark.operations.tasks", "bulk_status_task"),
    ("postmark.operations.forget", "forget"),
    ("postmark.client", "Client"),
    ("postmark.sandbox", "Sandbox"),
    ("postmark.testing.mixins", "PostmarkSandboxMixin"),
    ("postmark.testing.mixins", "PostmarkInboundMixin"),
    ("postmark.testing.inbound_delivery", "InboundTestClient"),
    ("postmark.testing.inbound_delivery", "InboundDelivery"),
    ("postmark.testing.inbound_delivery", "AttachedFile"),
    ("postmark.sandbox.inbound_payload", "payload"),
    ("postmark.sandbox.inbound_payload", "compose"),
    ("postmark.testing.backend", "PostmarkTestBackend"),
    ("postmark.webhooks", "views"),
    ("postmark.models", "Message"),
    ("postmark.models", "QueuedBatch"),
    ("postmark.models", "WebhookEvent"),
]


@pytest.mark.filterwarnings("ignore:postmark.operations.tasks is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("module", "name"), DOCUMENTED, ids=lambda value: str(value))
def test_every_documented_import_path_still_works(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name)


@pytest.mark.filterwarnings("ignore:postmark.operations.tasks is deprecated:DeprecationWarning")
def test_the_documented_tasks_are_the_same_objects_wherever_imported() -> None:
    from postmark import tasks
    from postmark.operations import tasks as documented

    assert documented.sync_task is tasks.sync_task
    assert tasks.sync_task.module_path == "postmark.tasks.sync_task"


def test_the_deprecated_tasks_path_warns_and_names_the_one_to_use() -> None:
    code = (
        "import warnings, django; warnings.simplefilter('error', DeprecationWarning); "
        "django.setup(); import postmark.operations.tasks"
    )
    here = Path(__file__).resolve().parents[1]  # where ``tests`` is importable from
    path = os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": path}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=here, check=False
    )
    assert run.returncode != 0
    assert "postmark.operations.tasks is deprecated" in run.stderr
    assert "from postmark.tasks" in run.stderr


MAX_TYPE_IGNORES = 15
#: The ``postmark_*`` attributes the package may set, each documented in docs/ for users to
#: read: a message's per-recipient copies and its test payload, a test case's sandbox. What the
#: send path keeps for itself lives in ``postmark.sending.recipients.SendState``.
DOCUMENTED_ATTRIBUTES = {"postmark_messages", "postmark_payload", "postmark_sandbox"}
DOCS = Path(__file__).resolve().parents[1] / "docs"


def set_attributes(source: str) -> set[str]:
    """The attribute names a module's source assigns (``x.name = ...``, ``x.name += ...``, in
    any target form) or sets by a literal name (``setattr(x, "name", ...)``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            names.add(node.args[1].value)
    return names


def test_the_package_has_at_most_fifteen_type_ignores() -> None:
    count = sum(path.read_text(encoding="utf-8").count("# type: ignore") for path in MODULES)
    assert count <= MAX_TYPE_IGNORES


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_sets_an_undeclared_postmark_attribute(path: Path) -> None:
    # A model's own fields (``DataRemoval.postmark_id``) are declared where they belong.
    fields = {
        field.name
        for model in apps.get_app_config("postmark").get_models()
        for field in model._meta.get_fields()
    }
    undeclared = {
        name
        for name in set_attributes(path.read_text(encoding="utf-8"))
        if name.startswith("postmark_") and name not in DOCUMENTED_ATTRIBUTES | fields
    }
    assert not undeclared, f"keep it in postmark.sending.recipients.SendState: {sorted(undeclared)}"


@pytest.mark.checkout  # reads docs/, which the wheel does not carry
def test_the_attributes_the_package_may_set_are_documented() -> None:
    docs = "\n".join(path.read_text(encoding="utf-8") for path in DOCS.rglob("*.rst"))
    assert all(f"{name}`" in docs or f".{name}" in docs for name in DOCUMENTED_ATTRIBUTES)


def test_the_attribute_scan_sees_every_form_of_setting() -> None:
    source = (
        "m.postmark_a = 1\nm.x, m.postmark_b = 1, 2\nm.postmark_c += 1\n"
        "m.postmark_d: int = 1\nsetattr(m, 'postmark_e', 1)\nm.y = n.postmark_f\n"
    )
    found = set_attributes(source)
    assert {"postmark_a", "postmark_b", "postmark_c", "postmark_d", "postmark_e"} <= found
    assert "postmark_f" not in found  # read, not set


def test_each_system_check_id_is_raised_by_one_module() -> None:
    # Two modules choosing the same id (branches that grew apart) would make one id mean two
    # things, and SILENCED_SYSTEM_CHECKS would silence both.
    owners: dict[str, set[str]] = {}
    for name, path in NAMES.items():
        for check_id in re.findall(r'id="(postmark\.[EWIC]\d{3})"', path.read_text()):
            owners.setdefault(check_id, set()).add(name)
    assert owners, "no system check found: the pattern no longer matches how ids are written"
    assert {check_id: sorted(m) for check_id, m in owners.items() if len(m) > 1} == {}
