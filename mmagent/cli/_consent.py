"""Consent before a file's embedded workflow runs (``mmagent workflow run FILE.png``).

A PNG, WAV or MP4 may come from anyone, and the workflow it carries may name any local path
(a folder to search, an input image). As ComfyUI only loads an embedded workflow into its
editor, nothing here runs until the user has seen the plan and every input it would read and
said yes: at the terminal, or beforehand with ``--yes``. With no terminal to ask and no
``--yes``, it is refused.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.markup import escape

from mmagent.artifacts._store import ArtifactRef
from mmagent.cli._display import err
from mmagent.errors import ConsentRequiredError

__all__ = ["reads", "confirm_embedded"]

_PATHISH = ("/", "~", "./", "../", "\\")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _is_path(text: str) -> bool:
    return not text.startswith("$") and (text.startswith(_PATHISH) or "/" in text
                                         or ":\\" in text)


def reads(wf: Any, values: dict[str, Any]) -> list[str]:
    """Every file, folder or stored artifact the workflow would read, as lines to show."""
    lines: list[str] = []
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, ArtifactRef):
                lines.append(f"input {name}: stored {item.kind} artifact {item.id[:12]}")
            else:
                lines += [f"input {name}: {s}" for s in _strings(item) if _is_path(s)]
    for node_id, node in wf.nodes.items():
        lines += [f"node {node_id} ({node.tool}): {s}" for s in _strings(node.args)
                  if _is_path(s)]
    return lines


def confirm_embedded(source: str, wf: Any, values: dict[str, Any], yes: bool) -> None:
    """Show the plan of ``source``'s embedded workflow and what it reads; return when the user
    agrees (or ``yes``), raise :class:`ConsentRequiredError` (exit 2) otherwise."""
    read_lines = reads(wf, values)
    err.print(f"{escape(source)} carries a workflow ({len(wf.nodes)} nodes):", soft_wrap=True)
    for node_id, node in wf.nodes.items():
        err.print(f"  {escape(node_id)}: {escape(node.tool)} {escape(str(node.args))[:300]}",
                  soft_wrap=True)
    err.print("it would read:" if read_lines else "it reads no local file or folder",
              soft_wrap=True)
    for line in read_lines:
        err.print(f"  {escape(line)}", soft_wrap=True)
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConsentRequiredError(
            f"got the embedded workflow of {source} with no terminal to ask and no --yes; "
            "expected --yes to run it (it runs nothing unasked)", path=source)
    err.print("Run it? [y/N] ", end="")  # on stderr, so --json keeps stdout to its object
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise ConsentRequiredError(f"got no consent to run the embedded workflow of {source}; "
                                   "expected yes (or --yes)", path=source)
