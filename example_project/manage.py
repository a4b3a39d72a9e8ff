#!/usr/bin/env python3
"""The example site's manage.py: run it from anywhere, e.g. ``python example_project/manage.py``."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    # The example imports ``example`` from here and ``postmark`` from the checkout above, so it
    # runs from a fresh clone whether or not the package was pip-installed.
    sys.path[:0] = [str(here), str(here.parent)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
