"""``mmagent eval taskbench``: plan TaskBench requests and score the plans (no tool runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mmagent.cli._display import err, out
from mmagent.cli._options import ConfigOpt, JsonOpt, ProfileOpt, load_config

if TYPE_CHECKING:
    from mmagent.config._config import Config
    from mmagent.eval._taskbench import SampleResult, TaskBenchReport

__all__ = ["eval_taskbench"]

DataOpt = Annotated[Path, typer.Option("--data", help="a TaskBench domain folder (tool_desc.json, "
                                       "data.json, user_requests.json)")]
LimitOpt = Annotated[int | None, typer.Option(help="plan only the first N samples")]
NoRetrievalOpt = Annotated[bool, typer.Option("--no-retrieval", help="show every tool card "
                                              "(planner.retrieval_k: 0)")]
NoDemosOpt = Annotated[bool, typer.Option("--no-demos", help="no worked examples "
                                          "(planner.demos_k: 0)")]
NoConstraintsOpt = Annotated[bool, typer.Option("--no-constraints", help="decode without the "
                                                "plan schema (planner.constrained: false)")]
DemosOpt = Annotated[Path | None, typer.Option(
    "--demos", help="gold TaskBench rows to plan from (JSONL, e.g. train.jsonl with "
    "train_requests.jsonl beside it); never the evaluated rows")]
HoldoutOpt = Annotated[int | None, typer.Option(
    help="evaluate N rows held out of --demos (seeded shuffle) instead of data.json; the "
    "rest stay the bank")]
SeedOpt = Annotated[int, typer.Option(help="shuffle seed of --holdout")]
NoGroundingOpt = Annotated[bool, typer.Option("--no-grounding", help="the LLM plans every "
                                              "request (planner.grounding.enabled: false)")]
NoNeighboursOpt = Annotated[bool, typer.Option("--no-neighbours", help="grounding without the "
                                               "similar demonstrations' tools as a prior")]
NoCardsOpt = Annotated[bool, typer.Option("--no-cards", help="grounding without the clauses' "
                                          "similarity to the tool cards")]


def eval_taskbench(
    data: DataOpt,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
    no_retrieval: NoRetrievalOpt = False,
    no_demos: NoDemosOpt = False,
    no_constraints: NoConstraintsOpt = False,
    demos: DemosOpt = None,
    holdout: HoldoutOpt = None,
    seed: SeedOpt = 0,
    no_grounding: NoGroundingOpt = False,
    no_neighbours: NoNeighboursOpt = False,
    no_cards: NoCardsOpt = False,
) -> None:
    """Plan TaskBench requests with the configured planner and score the plans (no tool runs).

    Demonstrations and step phrases come from --demos only (default: none), never from the
    evaluated rows."""
    from mmagent.agent._agent import make_backend
    from mmagent.errors import InputError
    from mmagent.eval._taskbench import (
        evaluate_taskbench,
        holdout_split,
        load_bank_rows,
        load_taskbench,
    )

    cfg = load_config(config, profile)
    _switch_off(cfg, no_retrieval=no_retrieval, no_demos=no_demos, no_constraints=no_constraints,
                no_grounding=no_grounding, no_neighbours=no_neighbours, no_cards=no_cards)
    bench = load_taskbench(data)
    bank = load_bank_rows(demos) if demos else []
    rows = None
    if holdout is not None:
        if not bank:
            raise InputError("got --holdout without --demos; expected a bank to hold rows out of")
        rows, bank = holdout_split(bank, holdout, seed)
    backend = make_backend(cfg.planner, cfg.cache_dir)
    count = len(rows if rows is not None else bench.samples)
    total = min(limit, count) if limit else count
    if not as_json:
        source = f"{demos} (held out)" if rows is not None else str(data)
        err.print(f"[dim]planning {total} TaskBench requests from {source} with "
                  f"{len(bank)} bank rows...[/dim]")
    report = evaluate_taskbench(bench, backend, cfg.planner, limit=limit, bank=bank,
                                samples=rows, on_sample=None if as_json else _show_sample)
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    _show_report(report, data.name)


def _switch_off(cfg: Config, *, no_retrieval: bool, no_demos: bool, no_constraints: bool,
                no_grounding: bool, no_neighbours: bool, no_cards: bool) -> None:
    """Apply the ``--no-*`` options to ``cfg.planner``."""
    off: dict[str, Any] = {"retrieval_k": 0} if no_retrieval else {}
    off |= {"demos_k": 0} if no_demos else {}
    off |= {"constrained": False} if no_constraints else {}
    ground: dict[str, Any] = {"enabled": False} if no_grounding else {}
    ground |= {"neighbour_weight": 0.0} if no_neighbours else {}
    ground |= {"card_weight": 0.0} if no_cards else {}
    off |= {"grounding": cfg.planner.grounding.model_copy(update=ground)}
    cfg.planner = cfg.planner.model_copy(update=off)


def _show_sample(r: SampleResult) -> None:
    mark = "[green]✓[/green]" if r.valid else "[red]✗[/red]"
    err.print(f"{mark} {r.id} ({r.type}) {r.seconds:.1f}s: "
              f"{' -> '.join(n['task'] for n in r.prediction) or 'no valid plan'}")


def _show_report(report: TaskBenchReport, domain: str) -> None:
    table = Table(title=f"TaskBench {domain} ({report.count} requests)", title_justify="left")
    for col in ("split", "count", "n-F1", "e-F1", "t-F1", "v-F1", "valid"):
        table.add_column(col, justify="left" if col == "split" else "right")
    rows = [("all", report)] + list(report.by_type.items())
    for name, r in rows:
        table.add_row(name, str(r.count), *(f"{v:.2f}" for v in (r.n_f1, r.e_f1, r.t_f1, r.v_f1)),
                      f"{r.valid_rate:.0%}")
    out.print(table)
    out.print(f"LLM calls per request: {report.llm_calls_per_request:.2f}; tokens per request: "
              f"{report.tokens_per_request:.0f}; grounded plans: {report.grounded_rate:.0%}; "
              f"planning seconds p50 {report.seconds_p50:.2f}, p95 {report.seconds_p95:.2f}")
