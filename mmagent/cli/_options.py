"""Options that several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mmagent.config._config import Config

__all__ = ["ConfigOpt", "ProfileOpt", "JsonOpt", "JsonListOpt", "NoCacheOpt", "load_config"]

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="mmagent.yaml to use")]
ProfileOpt = Annotated[str | None, typer.Option(help="offline | default (overrides the file)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object and nothing else")]
JsonListOpt = Annotated[bool, typer.Option("--json", help="print JSON")]  # the list commands
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="recompute every task instead of "
                                          "reusing cached results")]


def load_config(path: Path | None, profile: str | None) -> Config:
    """The config a command runs with; loaded first, so a bad file is reported before the
    command imports torch, transformers and LangGraph."""
    from mmagent.config._config import Config

    return Config.load(path, profile=profile)
