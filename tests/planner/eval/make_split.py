# Makes split.yaml: a fixed dev/test split, stratified by category, seeded shuffle.
# Run once, before any tuning:  python3 make_split.py
import random, yaml
SEED = 2026
DEV_FRACTION = 0.4
rows = yaml.safe_load(open("requests.yaml"))
rng = random.Random(SEED)
dev, test = [], []
for cat in ["single", "compose", "long", "new_tool", "no_tool", "unsupported"]:
    ids = sorted(r["id"] for r in rows if r["category"] == cat)
    rng.shuffle(ids)
    k = round(DEV_FRACTION * len(ids))
    dev += ids[:k]
    test += ids[k:]
dev.sort(); test.sort()
with open("split.yaml", "w") as f:
    f.write(f"# Fixed dev/test split of requests.yaml, made before any tuning.\n"
            f"# seed: {SEED}; {DEV_FRACTION:.0%} dev / {1-DEV_FRACTION:.0%} test, stratified by category;\n"
            f"# per category (fixed order single, compose, long, new_tool, no_tool, unsupported) the sorted ids\n"
            f"# are shuffled with one random.Random({SEED}) and the first round(0.4*n) go to dev. See make_split.py.\n")
    yaml.safe_dump({"seed": SEED, "dev": dev, "test": test}, f, default_flow_style=None, width=100, sort_keys=False)
print(len(dev), len(test))
