"""``mmagent serve`` and ``mmagent mcp``: the HTTP API, and MCP over stdio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmagent.cli._display import out
from mmagent.cli._options import ConfigOpt, ProfileOpt

__all__ = ["serve", "mcp"]


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    use_ray: Annotated[bool, typer.Option("--ray", help="Ray Serve: a deployment per tool and "
                                          "an ingress (settings: serving.ray)")] = False,
    emit_config: Annotated[Path | None, typer.Option("--emit-config", help="with --ray: write "
                                                     "the Ray Serve config YAML for `serve "
                                                     "deploy` and exit")] = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Serve the OpenAI-compatible HTTP API (embedded by default, or on Ray Serve)."""
    from mmagent.serving.launch import run_server

    run_server(host=host, port=port, use_ray=use_ray, emit_config=emit_config, config=config,
               profile=profile, echo=lambda line: out.print(line, markup=False, soft_wrap=True))


def mcp(
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Serve every tool, every workflow and the agent (`run`) as MCP tools over stdio (for MCP
    clients that start the server as a subprocess; `mmagent serve` answers MCP at /mcp)."""
    from mmagent.serving.mcp.service import serve_stdio

    serve_stdio(config, profile=profile)
