"""Server paths in tool arguments: which a caller may name.

An argument whose field is marked ``json_schema_extra={"server_path": True}`` (e.g.
``image_search``'s ``folder``) names a file or folder on the machine that runs the tool. A local
caller (the SDK, the CLI, MCP over stdio) may name any; a remote one (HTTP, MCP over HTTP) may
name none, unless the operator lists allowed roots (``serving.allowed_roots``), and then only
paths inside them. The check runs before the argument is validated, so a refused path is never
even tested for existence (no oracle of what the server holds).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mmagent.errors import PathRefusedError

__all__ = ["server_path_fields", "check_server_paths"]


def server_path_fields(model: type[BaseModel]) -> list[str]:
    """The names of ``model``'s fields that hold server paths."""
    return [name for name, f in model.model_fields.items()
            if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("server_path")]


def check_server_paths(tool: str, model: type[BaseModel], args: dict[str, Any],
                       roots: tuple[Path, ...] | None) -> None:
    """Raise :class:`PathRefusedError` for a server path in ``args`` outside ``roots`` (None:
    a local caller, every path allowed; empty: none allowed)."""
    if roots is None:
        return
    for name in server_path_fields(model):
        value = args.get(name)
        if value is None:
            continue
        if not isinstance(value, (str, os.PathLike)):
            continue  # not a path: the model's own validation says what is wrong
        path = Path(os.path.realpath(Path(value).expanduser()))  # symlinks and .. resolved
        if any(path == r or r in path.parents for r in roots):
            continue
        where = (f"inside {[str(r) for r in roots]} (serving.allowed_roots)" if roots else
                 "none: a remote caller may not name server paths unless the operator lists "
                 "allowed roots in serving.allowed_roots; send the media itself (images) instead")
        raise PathRefusedError(f"tool {tool!r}, argument {name!r}: got server path "
                               f"{str(value)[:200]!r} from a remote caller; expected {where}",
                               tool=tool, arg=name)
