"""Options that several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ConfigOpt", "ProfileOpt", "JsonOpt", "NoCacheOpt"]

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="mmagent.yaml to use")]
ProfileOpt = Annotated[str | None, typer.Option(help="offline | default (overrides the file)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object and nothing else")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="recompute every task instead of "
                                          "reusing cached results")]
