"""README.rst and CHANGELOG.rst are valid reStructuredText: the package index renders them as
the project's page, and a broken heading there is what a newcomer sees first. README stays an
introduction whose links lead into docs/, and the reference pages of docs/ document every
setting and every signal (``make docs`` checks the same with Sphinx, which the test extra
lacks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from django.dispatch import Signal
from docutils.core import publish_doctree
from docutils.utils import Reporter

import postmark.signals
from postmark.conf import PostmarkConf

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# checkout: the wheel carries no README and no docs/ (make test-wheel leaves this out).
pytestmark = pytest.mark.checkout


def doctree(name: str) -> object:
    settings = {"report_level": Reporter.WARNING_LEVEL, "halt_level": Reporter.SEVERE_LEVEL + 1}
    return publish_doctree(
        (ROOT / name).read_text(encoding="utf-8"),
        source_path=name,
        settings_overrides={**settings, "warning_stream": False},
    )


@pytest.mark.parametrize("name", ["README.rst", "CHANGELOG.rst"])
def test_the_document_renders_without_a_warning(name: str) -> None:
    problems: list[str] = []
    for message in doctree(name).findall(lambda node: node.tagname == "system_message"):
        if int(message["level"]) >= Reporter.WARNING_LEVEL:
            problems.append(f"{name}:{message.get('line')}: {message.astext()}")
    assert problems == []


def test_the_readme_is_an_introduction_whose_links_lead_to_pages_that_exist() -> None:
    assert len((ROOT / "README.rst").read_text(encoding="utf-8").splitlines()) <= 300
    targets = [
        node["refuri"]
        for node in doctree("README.rst").findall(lambda node: node.tagname == "reference")
        if "refuri" in node and "://" not in node["refuri"]
    ]
    assert "docs/settings.rst" in targets and "docs/signals.rst" in targets
    assert [target for target in targets if not (ROOT / target).is_file()] == []


def test_every_setting_has_its_entry_in_the_settings_reference() -> None:
    documented = re.findall(r"^\.\. setting:: (\S+)$", (DOCS / "settings.rst").read_text(), re.M)
    declared = [f"POSTMARK_{name}" for name in inspect.get_annotations(PostmarkConf)]
    assert sorted(documented) == sorted(declared)


def test_every_signal_has_its_entry_in_the_signals_reference() -> None:
    text = (DOCS / "signals.rst").read_text()
    documented = re.findall(r"^\.\. signal:: (\w+)\(sender, [\w, ]+\)$", text, re.M)
    declared = [name for name, value in vars(postmark.signals).items() if isinstance(value, Signal)]
    assert sorted(documented) == sorted(declared)
