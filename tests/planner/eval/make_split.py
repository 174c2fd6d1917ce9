"""Makes split.yaml: a fixed dev/test split of the request tables, stratified by category,
seeded, each table on its own.

Run once per table, before any tuning on it: ``python -m tests.planner.eval.make_split``.
``requests.yaml`` was split with seed 2026 (40 % dev); ``requests_more.yaml``, written later by
another author who saw neither the planner nor the first table, with seed 2027 (50 % dev).
Splitting again gives the same lists.
"""

import random
from pathlib import Path

import yaml

HERE = Path(__file__).parent
CATEGORIES = ["single", "compose", "long", "new_tool", "no_tool", "unsupported"]
TABLES = [("requests.yaml", 2026, 0.4), ("requests_more.yaml", 2027, 0.5)]
"""Each table, the seed of its split and its share of dev rows."""


def split(rows: list[dict], seed: int, dev_fraction: float) -> tuple[list[str], list[str]]:
    """Per category (in :data:`CATEGORIES` order) the sorted ids are shuffled with one
    ``random.Random(seed)`` and the first ``round(dev_fraction * n)`` go to dev."""
    rng = random.Random(seed)
    dev, test = [], []
    for cat in CATEGORIES:
        ids = sorted(r["id"] for r in rows if r["category"] == cat)
        rng.shuffle(ids)
        k = round(dev_fraction * len(ids))
        dev += ids[:k]
        test += ids[k:]
    return sorted(dev), sorted(test)


def main() -> None:
    dev, test = [], []
    lines = ["# Fixed dev/test split of the request tables, made before any tuning on each.",
             "# Per table, per category (fixed order single, compose, long, new_tool, no_tool,",
             "# unsupported) the sorted ids are shuffled with one random.Random(seed) and the",
             "# first round(share*n) go to dev. See make_split.py."]
    for name, seed, share in TABLES:
        rows = yaml.safe_load((HERE / name).read_text())
        d, t = split(rows, seed, share)
        dev += d
        test += t
        lines.append(f"# {name}: seed {seed}, {share:.0%} dev ({len(d)} dev, {len(t)} test).")
    body = yaml.safe_dump({"dev": dev, "test": test}, default_flow_style=None, width=100,
                          sort_keys=False)
    (HERE / "split.yaml").write_text("\n".join(lines) + "\n" + body)


if __name__ == "__main__":
    main()
