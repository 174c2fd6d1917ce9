"""``mmagent tools``: the registered tools as a table or JSON."""

from __future__ import annotations

import json

from rich.table import Table

from mmagent.cli._display import out
from mmagent.cli._options import ConfigOpt, JsonListOpt, ProfileOpt, load_config

__all__ = ["tools"]


def tools(
    as_json: JsonListOpt = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """List the registered tools: kind, input and output types, checkpoint, GPU memory."""
    from rich.markup import escape

    from mmagent.toolkit._catalog import tool_entries
    from mmagent.toolkit._registry import ToolRegistry

    cfg = load_config(config, profile)
    reg = ToolRegistry.discover({n: tc.kwargs() for n, tc in cfg.tools.items()})
    if cfg.mcp_servers:
        from mmagent.toolkit._mcp_client import add_mcp_tools

        add_mcp_tools(reg, cfg.mcp_servers)
    cards = tool_entries(reg)
    if as_json:
        print(json.dumps(cards, indent=2))
        return
    table = Table()
    for col in ("tool", "inputs", "outputs", "checkpoint"):
        table.add_column(col, no_wrap=col == "tool", overflow="fold")
    for c in cards:
        ins = ", ".join(f"{n}: {p['type']}{'' if p['required'] else '?'}"
                        for n, p in c["inputs"].items())
        outs = ", ".join(f"{n}: {p['type']}" for n, p in c["outputs"].items())
        gb = c["resources"]["gpu_memory_gb"]
        kind = c["kind"] + (f", ~{gb:g} GB" if gb else "")
        # escape: rich would read "list[image]" as a markup tag and print "list"
        table.add_row(f"{c['name']}\n[dim]{kind}[/dim]", escape(ins), escape(outs),
                      str(c["checkpoint"]))
    out.print(table)
