"""Generated documentation: ``docs/tools.md`` from the tool registry.

Run ``make docs`` (or ``python -m mmagent.tool._docs tools``) after adding or changing a tool;
``python -m mmagent.tool._docs tools --check`` exits 1 when the file is out of date (a test runs the
same check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mmagent.tool._registry import ToolRegistry

__all__ = ["render_tools_md", "main"]

DEFAULT_OUTPUT = Path("docs/tools.md")
_HEADER = """\
# Tools

<!-- Generated from the tool registry by `make docs` (python -m mmagent.tool._docs tools).
     Do not edit by hand: tests/tool/test_catalog.py fails when this file is out of date. -->

Every tool mmagent can schedule, as registered in the `mmagent.tools` entry-point group.
`mmagent tools --json` prints the same with the checkpoints your configuration selects.
A *model* tool loads weights (lazily, on first use; unloaded least-recently-used first under
`runtime.memory_budget_gb`); a *utility* joins media and loads none. GPU memory is the
approximate need of the default checkpoint in half precision. `?` marks an optional input.
"""


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _ports(ports: dict[str, dict[str, Any]], with_optional_mark: bool) -> str:
    return ", ".join(f"{n}{'?' if with_optional_mark and not p['required'] else ''}: {p['type']}"
                     for n, p in ports.items())


_BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"),
           ("exclusiveMaximum", "< {}"), ("minLength", ">= {} chars"),
           ("maxLength", "<= {} chars"), ("minItems", ">= {} items"), ("maxItems", "<= {} items"))


def _limits(prop: dict[str, Any]) -> str:
    """The declared bounds of one input property (its JSON schema, optional types unwrapped)."""
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            prop = {**option, **prop}
    return ", ".join(fmt.format(prop[key]) for key, fmt in _BOUNDS if key in prop)


def render_tools_md(registry: ToolRegistry) -> str:
    """The Markdown page: one table row per tool, then a section per tool with its ports."""
    lines = [_HEADER, "| tool | kind | inputs | outputs | default checkpoint | GPU memory |",
             "|---|---|---|---|---|---|"]
    classes = [registry.tool_class(n) for n in registry.names()]
    for cls in classes:
        card = cls.card()
        gb = cls.resources.gpu_memory_gb
        lines.append(f"| [`{cls.name}`](#{cls.name}) | {cls.category} | "
                     f"{_cell(_ports(card['inputs'], True))} | "
                     f"{_cell(_ports(card['outputs'], False))} | "
                     f"{'`' + cls.default_checkpoint + '`' if cls.default_checkpoint else '-'} | "
                     f"{f'~{gb:g} GB' if gb else '-'} |")
    for cls in classes:
        card = cls.card()
        res = cls.resources
        lines += ["", f"## {cls.name}", "", _cell(card["description"]), "",
                  f"Kind: {cls.category}. Default checkpoint: "
                  f"{'`' + cls.default_checkpoint + '`' if cls.default_checkpoint else 'none'}. "
                  f"Resources per replica: {res.num_gpus:g} GPU, {res.num_cpus:g} CPU, "
                  f"~{res.gpu_memory_gb:g} GB GPU memory.", "",
                  "| port | name | type | limits | description |", "|---|---|---|---|---|"]
        schema = cls.Input.model_json_schema().get("properties", {})
        for side in ("inputs", "outputs"):
            for name, p in card[side].items():
                note = ""
                if side == "inputs" and not p["required"]:
                    note = f" (optional; default {p['default']!r})" if "default" in p else \
                        " (optional)"
                limits = _limits(schema.get(name, {})) if side == "inputs" else ""
                lines.append(f"| {side[:-1]} | `{name}` | {p['type']} | {limits or '-'} | "
                             f"{_cell(p['description'])}{_cell(note) and ' ' + _cell(note)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmagent.tool._docs",
                                     description="Generate mmagent's documentation pages.")
    sub = parser.add_subparsers(dest="page", required=True)
    tools = sub.add_parser("tools", help="docs/tools.md from the tool registry")
    tools.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write")
    tools.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 if the file differs from the registry")
    args = parser.parse_args(argv)
    registry = ToolRegistry.discover()
    text = render_tools_md(registry)
    if args.check:
        current = args.output.read_text() if args.output.is_file() else None
        if current != text:
            print(f"{args.output} is out of date with the tool registry; run `make docs`",
                  file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(registry.names())} tools)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
