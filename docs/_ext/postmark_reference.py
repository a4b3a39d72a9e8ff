"""Sphinx extension: the ``setting`` and ``signal`` directives of the reference pages, and a
check that fails the build (a warning, an error under ``-W``) when the code has a setting or a
signal that no page documents, or a page documents one the code no longer has.

``.. setting:: POSTMARK_NAME`` shows the setting, its type and its default as written in
``postmark.conf.PostmarkConf`` (read from the source, so it cannot drift), then its prose.
``.. signal:: name(sender, argument, ...)`` shows a signal of ``postmark.signals``.
Both can be referred to from any page: :setting:`POSTMARK_NAME`, :signal:`name`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, cast

from django.dispatch import Signal
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.domains.std import GenericObject, StandardDomain
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)
PREFIX = "POSTMARK_"


def declared_settings() -> dict[str, tuple[str, str]]:
    """Every setting of PostmarkConf: ``POSTMARK_NAME`` -> (its type, its default), each as the
    source writes it (``50 * 1024 * 1024`` reads better than 52428800)."""
    from postmark.conf import PostmarkConf

    source = textwrap.dedent(inspect.getsource(PostmarkConf))
    [cls] = ast.parse(source).body
    assert isinstance(cls, ast.ClassDef)
    found: dict[str, tuple[str, str]] = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            if name.isupper() and node.value is not None:
                found[PREFIX + name] = (ast.unparse(node.annotation), ast.unparse(node.value))
    # The source and the class must agree: a setting made some other way would be missed.
    if set(found) != {PREFIX + name for name in inspect.get_annotations(PostmarkConf)}:
        raise RuntimeError("postmark.conf.PostmarkConf declares a setting this reader misses")
    return found


def declared_signals() -> set[str]:
    import postmark.signals

    return {name for name, value in vars(postmark.signals).items() if isinstance(value, Signal)}


class SettingDirective(GenericObject):
    """``.. setting:: POSTMARK_NAME``: the name, then its type and default from the code."""

    indextemplate = "pair: %s; setting"

    def transform_content(self, content_node: addnodes.desc_content) -> None:
        name = self.arguments[0].strip()
        declared = declared_settings().get(name)
        if declared is None:
            logger.warning(
                "%s is documented but postmark.conf.PostmarkConf has no such setting",
                name,
                location=self.get_location(),
            )
            return
        kind, default = declared
        line = nodes.paragraph()
        line += nodes.strong(text="Default: ")
        line += nodes.literal(text=default)
        line += nodes.Text("  ·  type ")
        line += nodes.literal(text=kind)
        content_node.insert(0, line)


def parse_signal(env: BuildEnvironment, sig: str, signode: addnodes.desc_signature) -> str:
    """``name(a, b)``: the name is the target, the arguments are shown as a parameter list."""
    name, _, rest = sig.partition("(")
    name = name.strip()
    signode += addnodes.desc_addname("postmark.signals.", "postmark.signals.")
    signode += addnodes.desc_name(name, name)
    params = addnodes.desc_parameterlist()
    for argument in rest.rstrip(")").split(","):
        if argument.strip():
            params += addnodes.desc_parameter(argument.strip(), argument.strip())
    signode += params
    return name


def check_every_one_is_documented(app: Sphinx, env: BuildEnvironment) -> None:
    objects = cast(StandardDomain, env.get_domain("std")).objects
    documented = {
        kind: {name for (k, name) in objects if k == kind} for kind in ("setting", "signal")
    }
    for name in sorted(set(declared_settings()) - documented["setting"]):
        logger.warning(
            "the setting %s (postmark.conf) is not documented: add it to docs/settings.rst", name
        )
    for name in sorted(declared_signals() - documented["signal"]):
        logger.warning(
            "the signal %s (postmark.signals) is not documented: add it to docs/signals.rst", name
        )
    for name in sorted(documented["signal"] - declared_signals()):
        logger.warning("the signal %s is documented but postmark.signals has no such signal", name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_object_type("setting", "setting", indextemplate="pair: %s; setting")
    app.add_directive_to_domain("std", "setting", SettingDirective, override=True)
    app.add_object_type(
        "signal", "signal", indextemplate="pair: %s; signal", parse_node=parse_signal
    )
    app.connect("env-check-consistency", check_every_one_is_documented)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
