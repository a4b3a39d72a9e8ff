"""Sphinx configuration of django-postmark's documentation (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

HERE = Path(__file__).resolve().parent
# The checkout's postmark, not an installed copy; the extension and the settings beside it.
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]
# postmark's modules need Django configured (postmark.conf reads settings at import).
os.environ["DJANGO_SETTINGS_MODULE"] = "docs_settings"
django.setup()

import postmark  # noqa: E402

project = "django-postmark"
author = "django-postmark contributors"
copyright = "django-postmark contributors"
release = version = postmark.__version__

extensions = ["postmark_reference"]
exclude_patterns = ["_build"]
templates_path: list[str] = []
nitpicky = True

html_theme = "furo"
html_title = f"django-postmark {release}"
html_static_path: list[str] = []
html_copy_source = False
pygments_style = "sphinx"
# Literal blocks (::) are shell commands and output; Python is marked as such (code-block).
highlight_language = "none"
