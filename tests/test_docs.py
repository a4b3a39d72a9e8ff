"""README.rst and CHANGELOG.rst are valid reStructuredText: the package index renders them as
the project's page, and a broken heading there is what a newcomer sees first."""

from __future__ import annotations

from pathlib import Path

import pytest
from docutils.core import publish_doctree
from docutils.utils import Reporter

ROOT = Path(__file__).resolve().parents[1]
# checkout: the wheel carries no README (make test-wheel leaves this out).
pytestmark = pytest.mark.checkout


@pytest.mark.parametrize("name", ["README.rst", "CHANGELOG.rst"])
def test_the_document_renders_without_a_warning(name: str) -> None:
    problems: list[str] = []
    settings = {"report_level": Reporter.WARNING_LEVEL, "halt_level": Reporter.SEVERE_LEVEL + 1}
    doctree = publish_doctree(
        (ROOT / name).read_text(encoding="utf-8"),
        source_path=name,
        settings_overrides={**settings, "warning_stream": False},
    )
    for message in doctree.findall(lambda node: node.tagname == "system_message"):
        if int(message["level"]) >= Reporter.WARNING_LEVEL:
            problems.append(f"{name}:{message.get('line')}: {message.astext()}")
    assert problems == []
