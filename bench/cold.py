"""Cold start, as a user meets it: whole processes, timed from outside, against a baseline
measured in the same run (``python -c pass``), medians and spreads over repeats.

- ``help``: ``mmagent --help`` (target <= 0.5 s).
- ``run``: the offline caption-and-speak request through the CLI, ``mmagent run "What is in
  this photo? Say it aloud." --image <photo> -c <config>`` (target <= 5 s), beside
  ``python -c`` importing the libraries it cannot run without (torch, the BERT and BLIP
  modelling code, LangGraph): the floor the run stands on.
- Nothing is answered from a cache, which a user's first request on a new photo never is: the
  config is ``examples/mmagent.yaml`` with ``executor.cache: false`` and ``planner.plan_cache:
  false``, and every timed run and request gets a photo of its own: the example photo with its
  first pixels set from a random 72-bit seed drawn for it (not a counter, which another bench
  process restarts), so nothing keyed by the bytes (the artifact store, a cache turned back on)
  meets a photo it has seen before.
- ``serve``: a fresh ``mmagent serve`` process (with and without its warm-up): seconds until it
  answers ``/healthz``, then its first ``POST /v1/chat/completions`` (the request above, image
  inline) against the median of the next ``--repeat`` (target: first <= 2x a warm one), in
  wall seconds and in the server's CPU seconds.

    python bench/cold.py [--json] [--what help,run,serve] [--repeat N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
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
EXAMPLE_CONFIG = ROOT / "examples" / "mmagent.yaml"
NO_CACHE = {"executor": {"cache": False}, "planner": {"plan_cache": False}}
"""What the bench's config sets over the example's: no result or plan is reused."""
PHOTO = ROOT / "examples" / "photo.png"
FLOOR = ("import torch, langgraph.func, transformers.models.bert.modeling_bert, "
         "transformers.models.blip.modeling_blip")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MMAGENT_API_KEYS": "sk-bench"}


_SCRATCH = Path(tempfile.mkdtemp(prefix="mmagent-cold-"))


def bench_config() -> Path:
    """``examples/mmagent.yaml`` with :data:`NO_CACHE` set over it, as a file of its own."""
    import yaml

    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for section, values in NO_CACHE.items():
        raw[section] = {**raw.get(section, {}), **values}
    path = _SCRATCH / "mmagent.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


CONFIG = bench_config()


def new_photo() -> Path:
    """The example photo with its first three pixels set from a fresh random 72-bit seed: a
    photo no run has seen, whichever process made the others."""
    from PIL import Image

    seed = secrets.randbits(72)
    img = Image.open(PHOTO).convert("RGB")
    for i in range(3):
        word = seed >> (24 * i) & 0xFFFFFF
        img.putpixel((i, 0), (word >> 16, word >> 8 & 0xFF, word & 0xFF))
    path = _SCRATCH / f"photo-{seed:018x}.png"
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

    return {"command": f"mmagent run {PROMPT!r} --image <a new photo> -c <the bench config>",
            "baseline": f"python -c '{FLOOR}'",
            **paired(cmd, [PY, "-c", FLOOR], repeat)}


def _serve_once(warm: bool, repeat: int) -> dict[str, Any]:
    """A fresh server: seconds until it answers, then its first request and ``repeat`` more,
    each timed in wall seconds and in the server process's CPU seconds (which the other
    processes of a loaded machine inflate less)."""
    import httpx
    import psutil

    from mmagent.serving.server import free_port

    port = free_port()
    code = ("from mmagent.serving import serve_embedded; "
            f"serve_embedded({str(CONFIG)!r}, port={port}, warm={warm})")
    log = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", code], stdout=log, stderr=log, env=ENV, cwd=ROOT)
    server = psutil.Process(proc.pid)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                          headers={"Authorization": "Bearer sk-bench"}) as client:
            _wait_ready(client, proc, log)
            ready = time.perf_counter() - t0
            walls, cpus = [], []
            for _ in range(1 + repeat):
                payload, cpu = _chat_body(), server.cpu_times()
                t = time.perf_counter()
                client.post("/v1/chat/completions", json=payload).raise_for_status()
                walls.append(time.perf_counter() - t)
                after = server.cpu_times()
                cpus.append(after.user + after.system - cpu.user - cpu.system)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log.seek(0)
    said = [line for line in log.read().decode(errors="replace").splitlines()
            if line.startswith("warm-up")]
    return {"ready_s": round(ready, 3), "first_s": round(walls[0], 3),
            "warm_s": spread(walls[1:]),
            "first_over_warm": round(walls[0] / statistics.median(walls[1:]), 2),
            "first_cpu_s": round(cpus[0], 3), "warm_cpu_s": spread(cpus[1:]),
            "first_over_warm_cpu": round(cpus[0] / statistics.median(cpus[1:]), 2),
            **({"warm_up_log": said} if warm else {})}


def _chat_body() -> dict[str, Any]:
    """The bench's request with a new photo inline."""
    image = "data:image/png;base64," + base64.b64encode(new_photo().read_bytes()).decode()
    return {"model": "mmagent", "messages": [{"role": "user", "content": [
        {"type": "text", "text": PROMPT}, {"type": "image_url", "image_url": {"url": image}}]}]}


def _wait_ready(client: Any, proc: subprocess.Popen, log: Any) -> None:
    """Until the server answers ``/healthz`` (its log in the error if it exits first)."""
    import httpx

    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited: {log.read().decode()[-2000:]}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)


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
    out: dict[str, Any] = {"cores": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2),
                           "repeat": args.repeat,
                           "config": f"examples/mmagent.yaml with {json.dumps(NO_CACHE)}"}
    for name in args.what.split(","):
        out[name] = BENCHES[name](args.repeat)
        if not args.json:
            print(name, json.dumps(out[name], indent=2), flush=True)
    out["load_avg_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        emit(out)


if __name__ == "__main__":
    main()
