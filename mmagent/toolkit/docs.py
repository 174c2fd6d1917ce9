"""``python -m mmagent.toolkit.docs``: write ``docs/tools.md`` from the tool registry.

Run it (or ``make docs``) after adding or changing a tool; ``--check`` writes nothing and exits 1
when the file is out of date (a test runs the same check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmagent.toolkit._catalog import render_tools_md
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["main"]

DEFAULT_OUTPUT = Path("docs/tools.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmagent.toolkit.docs",
                                     description="Write docs/tools.md from the tool registry.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write")
    parser.add_argument("--check", action="store_true",
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
