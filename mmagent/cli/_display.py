"""What the CLI prints while a run goes on: its events as lines (progress bars on a terminal),
the answer and the artifacts, and the approval prompt."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["out", "err", "show_stream", "ask_approval", "started_runs", "PAUSED_EXIT"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
started_runs: list[str] = []
"""Run ids this process announced, newest last: Ctrl-C says how to resume the last."""


PAUSED_EXIT = 5
"""Exit code of a run that paused for approval: neither success nor failure."""


def show_stream(agent, events, intro: str | None = "planning...") -> bool:
    """Print ``events`` as they come; True when a task failed. A run that ends paused for
    approval exits :data:`PAUSED_EXIT` here, after saying how to continue."""
    view = _StreamView(agent)
    if intro:
        out.print(f"[dim]{intro}[/dim]")
    try:
        for ev in events:
            view.show(ev)
    finally:  # Ctrl-C: the bars go, so the hint that follows reads on a clean line
        if view.progress is not None:
            view.progress.stop()
    if view.run_id is not None and _recorded_status(agent, view.run_id) == "awaiting_approval":
        err.print(f"[yellow]paused[/yellow]: run {view.run_id} waits for approval; continue "
                  f"with `mmagent resume {view.run_id} --approve` (or --reject)", soft_wrap=True)
        raise typer.Exit(PAUSED_EXIT)
    return view.failed


def _recorded_status(agent, run_id: str) -> str | None:
    runs = agent.executor.runs
    return runs.get(run_id).status if runs is not None and runs.exists(run_id) else None


def ask_approval(request) -> bool:
    for t in request.tasks:
        err.print(f"[yellow]?[/yellow] {t['task_id']} {t['tool']} {json.dumps(t['args'])}"
                  f"{' — ' + t['reason'] if t['reason'] else ''}", soft_wrap=True)
    return typer.confirm(f"Run {', '.join(request.task_ids)}?", default=False, err=True)


class _StreamView:
    """One line per event; task progress as bars, which stop at an approval and at the
    answer."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.failed = False
        self.run_id: str | None = None
        self.progress: Progress | None = None
        self.bars: dict[str, TaskID] = {}
        self._on = {"plan": self._plan, "task_started": self._task_started,
                    "run_started": self._run_started,
                    "approval_requested": self._approval_requested,
                    "task_retrying": self._task_retrying, "task_progress": self._task_progress,
                    "task_finished": self._task_finished, "task_failed": self._task_failed,
                    "replanning": self._replanning, "replan_failed": self._replan_failed,
                    "answer": self._answer}

    def show(self, ev: Any) -> None:
        handler = self._on.get(ev.type)
        if handler is not None:
            handler(ev)

    def _plan(self, ev: Any) -> None:
        if not ev.plan.tasks:  # the request needs no tool: the answer is all there is
            return
        table = Table(title=f"Plan (attempt {ev.attempts})", title_justify="left")
        for col in ("task", "tool", "args"):
            table.add_column(col)
        for t in ev.plan.tasks:
            table.add_row(t.id, t.tool, json.dumps(t.args))
        out.print(table)

    def _task_started(self, ev: Any) -> None:
        out.print(f"[cyan]>[/cyan] {ev.task_id} {ev.tool} started")

    def _run_started(self, ev: Any) -> None:
        self.run_id = self.run_id or ev.run_id
        started_runs.append(ev.run_id)
        out.print(f"[dim]run {ev.run_id}{' (resumed)' if ev.resumed else ''}[/dim]")

    def _approval_requested(self, ev: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress, self.bars = None, {}
        waiting = ", ".join(f"{t['task_id']} ({t['tool']})" for t in ev.tasks)
        out.print(f"[yellow]‖[/yellow] paused: {waiting} waits for approval")

    def _task_retrying(self, ev: Any) -> None:
        out.print(f"[yellow]↻[/yellow] {ev.task_id} {ev.tool} attempt {ev.attempt} failed "
                  f"({ev.error}); retrying in {ev.delay_s:.1f}s", soft_wrap=True)

    def _task_progress(self, ev: Any) -> None:
        if not out.is_terminal:
            return  # bars only on a terminal; piped output stays plain lines
        from rich.progress import Progress

        if self.progress is None:
            self.progress = Progress(console=out, transient=True)
            self.progress.start()
        if ev.task_id not in self.bars:
            self.bars[ev.task_id] = self.progress.add_task(ev.task_id, total=ev.total)
        self.progress.update(self.bars[ev.task_id], completed=ev.step,
                             description=ev.message or ev.task_id)

    def _task_finished(self, ev: Any) -> None:
        shown = {k: (v["uri"] if isinstance(v, dict) and "uri" in v else
                     f"artifact://{v['id']}" if isinstance(v, dict) and "id" in v else v)
                 for k, v in ev.output.items()}
        how = "finished (served from cache)" if getattr(ev, "cached", False) else \
            f"finished in {ev.seconds:.2f}s"
        out.print(f"[green]✓[/green] {ev.task_id} {ev.tool} {how}: {json.dumps(shown)}")

    def _task_failed(self, ev: Any) -> None:
        self.failed = True
        out.print(f"[red]✗[/red] {ev.task_id} {ev.tool} failed {escape(f'[{ev.code}]')}: "
                  f"{escape(ev.message)}")

    def _replanning(self, ev: Any) -> None:
        if not ev.elapsed_s:  # the first of its heartbeats
            out.print(f"[yellow]↻[/yellow] re-planning after {', '.join(ev.failed)} failed")

    def _replan_failed(self, ev: Any) -> None:
        out.print(f"[yellow]↻[/yellow] re-planning gave up after {ev.elapsed_s:.1f}s "
                  f"{escape(f'[{ev.code}]')}: {escape(ev.message)}", soft_wrap=True)

    def _answer(self, ev: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
        out.print("\n[bold]Answer[/bold]")
        out.print(ev.text, soft_wrap=True, markup=False)
        if ev.artifacts:
            out.print("\n[bold]Artifacts[/bold]")
            for aid in ev.artifacts:
                ref = self.agent.store.get(aid)
                out.print(f"  {ref.kind:5} {ref.mime:10} {self.agent.artifact_path(ref)}",
                          soft_wrap=True)
