"""Makes split.yaml: a fixed dev/test split of requests.yaml, stratified by category, seeded.

Run once, before any tuning: ``python -m tests.planner.eval.make_split``.
"""

import random
from pathlib import Path

import yaml

SEED = 2026
DEV_FRACTION = 0.4
HERE = Path(__file__).parent
CATEGORIES = ["single", "compose", "long", "new_tool", "no_tool", "unsupported"]


def main() -> None:
    rows = yaml.safe_load((HERE / "requests.yaml").read_text())
    rng = random.Random(SEED)
    dev, test = [], []
    for cat in CATEGORIES:
        ids = sorted(r["id"] for r in rows if r["category"] == cat)
        rng.shuffle(ids)
        k = round(DEV_FRACTION * len(ids))
        dev += ids[:k]
        test += ids[k:]
    dev.sort()
    test.sort()
    header = (
        "# Fixed dev/test split of requests.yaml, made before any tuning.\n"
        f"# seed: {SEED}; {DEV_FRACTION:.0%} dev / {1 - DEV_FRACTION:.0%} test, stratified by "
        "category;\n# per category (fixed order single, compose, long, new_tool, no_tool, "
        "unsupported) the sorted ids\n"
        f"# are shuffled with one random.Random({SEED}) and the first round(0.4*n) go to dev. "
        "See make_split.py.\n")
    body = yaml.safe_dump({"seed": SEED, "dev": dev, "test": test}, default_flow_style=None,
                          width=100, sort_keys=False)
    (HERE / "split.yaml").write_text(header + body)


if __name__ == "__main__":
    main()
