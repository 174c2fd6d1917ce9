"""Cold start, as a user meets it: whole processes, timed from outside, against a baseline
measured in the same run (``python -c pass``), medians and spreads over repeats.

- ``help``: ``mmagent --help`` (target <= 0.5 s).
- ``run``: the offline caption-and-speak request through the CLI, ``mmagent run "What is in
  this photo? Say it aloud." --image examples/photo.png -c examples/mmagent.yaml`` (target <=
  5 s), beside ``python -c`` importing the libraries it cannot run without (torch, the BERT and
  BLIP modelling code, LangGraph): the floor the run stands on.
- Every timed run and request gets a photo of its own (the example photo with one pixel
  changed): the same bytes again would be answered from the result cache, which a user's
  first request on a new photo never is.
- ``serve``: a fresh ``mmagent serve`` process (with and without its warm-up): seconds until it
  answers ``/healthz``, then its first ``POST /v1/chat/completions`` (the request above, image
  inline) against the median of the next three (target: first <= 2x a warm one).

    python bench/cold.py [--json] [--what help,run,serve] [--repeat N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _stats import spread
from _stdout import json_stdout

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PROMPT = "What is in this photo? Say it aloud."
CONFIG = ROOT / "examples" / "mmagent.yaml"
PHOTO = ROOT / "examples" / "photo.png"
FLOOR = ("import torch, langgraph.func, transformers.models.bert.modeling_bert, "
         "transformers.models.blip.modeling_blip")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MMAGENT_API_KEYS": "sk-bench"}


_PHOTOS = Path(tempfile.mkdtemp(prefix="mmagent-cold-"))
_made = [0]


def new_photo() -> Path:
    """The example photo with one pixel changed, a new one each call (a result-cache miss)."""
    from PIL import Image

    _made[0] += 1
    n = _made[0]
    img = Image.open(PHOTO).convert("RGB")
    r, g, b = img.getpixel((0, 0))
    img.putpixel((0, 0), ((r + n) % 256, (g + n // 256) % 256, b))
    path = _PHOTOS / f"photo-{n}.png"
    img.save(path)
    return path


def wall(cmd: list[str] | Callable[[], list[str]]) -> float:
    if callable(cmd):
        cmd = cmd()
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV,
                   cwd=ROOT)
    return time.perf_counter() - t0


def paired(cmd: list[str] | Callable[[], list[str]], base: list[str],
           repeat: int) -> dict[str, Any]:
    """``cmd`` and ``base`` in turn (one warm-up each), and their ratio pair by pair."""
    wall(cmd)
    wall(base)
    a, b = [], []
    for _ in range(repeat):
        a.append(wall(cmd))
        b.append(wall(base))
    return {"seconds": spread(a), "baseline_s": spread(b),
            "ratio": spread([x / y for x, y in zip(a, b, strict=True)], 2)}


def mmagent(*args: str) -> list[str]:
    return [PY, "-m", "mmagent.cli", *args]


def bench_help(repeat: int) -> dict[str, Any]:
    return {"command": "mmagent --help", "baseline": "python -c pass",
            **paired(mmagent("--help"), [PY, "-c", "pass"], repeat)}


def bench_run(repeat: int) -> dict[str, Any]:
    def cmd() -> list[str]:
        return mmagent("run", PROMPT, "--image", str(new_photo()), "-c", str(CONFIG))

    return {"command": f"mmagent run {PROMPT!r} --image <a new photo> -c "
            "examples/mmagent.yaml", "baseline": f"python -c '{FLOOR}'",
            **paired(cmd, [PY, "-c", FLOOR], repeat)}


def _serve_once(warm: bool, repeat: int) -> dict[str, Any]:
    import httpx

    from mmagent.serving.server import free_port

    port = free_port()
    code = ("from mmagent.serving import serve_embedded; "
            f"serve_embedded({str(CONFIG)!r}, port={port}, warm={warm})")
    log = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", code], stdout=log, stderr=log, env=ENV, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"

    def body() -> dict[str, Any]:
        image = "data:image/png;base64," + base64.b64encode(new_photo().read_bytes()).decode()
        return {"model": "mmagent", "messages": [{"role": "user", "content": [
            {"type": "text", "text": PROMPT},
            {"type": "image_url", "image_url": {"url": image}}]}]}
    try:
        with httpx.Client(base_url=url, timeout=600,
                          headers={"Authorization": "Bearer sk-bench"}) as client:
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the server exited: {log.read().decode()[-2000:]}")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            ready = time.perf_counter() - t0
            times = []
            for _ in range(1 + repeat):
                payload = body()
                t = time.perf_counter()
                r = client.post("/v1/chat/completions", json=payload)
                times.append(time.perf_counter() - t)
                r.raise_for_status()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    warm_s = statistics.median(times[1:])
    return {"ready_s": round(ready, 3), "first_s": round(times[0], 3),
            "warm_s": spread(times[1:]), "first_over_warm": round(times[0] / warm_s, 2)}


def bench_serve(repeat: int) -> dict[str, Any]:
    return {"request": f"POST /v1/chat/completions {PROMPT!r} + a new photo inline",
            "warm_up": _serve_once(True, repeat), "no_warm_up": _serve_once(False, repeat)}


BENCHES = {"help": bench_help, "run": bench_run, "serve": bench_serve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--what", default="help,run,serve", help="comma-separated: help, run, serve")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (median, spread)")
    args = ap.parse_args()
    emit = json_stdout(args.json)
    out: dict[str, Any] = {"cores": os.cpu_count(), "repeat": args.repeat}
    for name in args.what.split(","):
        out[name] = BENCHES[name](args.repeat)
        if not args.json:
            print(name, json.dumps(out[name], indent=2), flush=True)
    if args.json:
        emit(out)


if __name__ == "__main__":
    main()
