"""``python -m tests.planner.eval [--split dev|test|all] [--table NAME] [--rows] [--json]
[--set KEY=VALUE]``:
plan the evaluation requests with the offline planner and print the share right per category.

``--set grounding.card_weight=0`` (repeatable) changes a ``planner:`` setting, for ablations.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile

import yaml

from mmagent.eval._requests import evaluate_requests, load_requests, load_split
from tests.planner.eval import SPLIT, TABLES, eval_agent


def _settings(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})  # type: ignore[assignment]
        node[last] = yaml.safe_load(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.planner.eval")
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--table", default=None, choices=[t.name for t in TABLES],
                    help="one table's rows (default: both)")
    ap.add_argument("--rows", action="store_true", help="print every row (dev only)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cache", default=None, help="cache_dir (default: a fresh temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [row for table in TABLES if args.table in (None, table.name)
            for row in load_requests(table)]
    known = {row.id for row in rows}
    ids = [i for i in (known if args.split == "all" else load_split(SPLIT, args.split))
           if i in known]
    cache = args.cache or tempfile.mkdtemp(prefix="mmagent-eval-")
    agent = eval_agent(cache, **_settings(args.set))
    planner = agent.planner()
    by_id = {r.id: r for r in rows}
    show = args.rows and args.split == "dev"  # test rows are reported by category only

    def on_row(r) -> None:
        if show and not r.right:
            row = by_id[r.id]
            print(f"✗ {r.id} {r.category}: {row.request[:110]!r}\n"
                  f"    want {row.tools or row.answer} {[list(x) for x in row.links]}\n"
                  f"    got  {r.outcome} {r.tools} {[list(x) for x in r.links]} "
                  f"conf={r.confidence} {r.error or ''}"[:600])

    report = evaluate_requests(planner.plan, rows, ids, on_row=on_row)
    if args.json:
        print(json.dumps(report.model_dump(mode="json", exclude={"rows"}
                                           if args.split != "dev" else set()), indent=1))
        return
    print(f"split {args.split}: {report.right}/{report.count} = {report.share:.1%} right; "
          f"planning p50 {report.seconds_p50:.3f} s, p95 {report.seconds_p95:.3f} s")
    for cat, c in report.by_category.items():
        print(f"  {cat:12s} {c.right:3d}/{c.count:<3d} {c.share:6.1%}  (asks to confirm: "
              f"{c.confirm})")


if __name__ == "__main__":
    main()
