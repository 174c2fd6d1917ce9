"""The planner's embedding beside a busy torch, with numpy's BLAS on its default threads
against one thread (what :func:`mmagent.planner._embed.one_blas_thread` sets), in the same
process: a request planned while another request's tool runs, on the machine's cores.

Each figure is the median and the most of ``--calls`` embeddings of a three-clause request, the
two sides timed in turn; then the same with torch idle.

    python bench/embed_threads.py [--json] [--calls N]
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from _stats import spread
from threadpoolctl import ThreadpoolController

CLAUSES = ["transcribe this recording", "draw a picture of what was said", "say it aloud"]


def timed(embed, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        embed()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    from mmagent.planner._embed import _package_model_path
    from mmagent.planner._minilm import NumpyMiniLM

    model = NumpyMiniLM(_package_model_path())  # the bare model: BLAS threads as numpy set them
    model.embed(["warm"], 32)
    blas = ThreadpoolController()

    def default() -> None:
        model.embed(CLAUSES, 32)

    def one() -> None:
        with blas.limit(limits=1, user_api="blas"):
            model.embed(CLAUSES, 32)

    stop = threading.Event()

    def busy() -> None:  # a tool's forward passes beside the planner
        a = torch.randn(600, 600)
        while not stop.is_set():
            a @ a

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    figures = {"busy": {"default": spread(timed(default, args.calls), 1),
                        "one_thread": spread(timed(one, args.calls), 1)}}
    stop.set()
    worker.join()
    figures["idle"] = {"default": spread(timed(default, args.calls), 1),
                       "one_thread": spread(timed(one, args.calls), 1)}
    if args.json:
        print(json.dumps(figures))
        return
    for load, sides in figures.items():
        for side, s in sides.items():
            print(f"torch {load:4} BLAS {side:10} median {s['median']:7.1f} ms  "
                  f"max {s['max']:7.1f} ms")


if __name__ == "__main__":
    main()
