"""The ``mmagent`` command line.

Exit codes: 0 success; 2 bad input or config; 3 no valid plan; 4 a task failed; 1 anything
else. Errors print one line, ``error[<code>]: <message>``, with no traceback
(``MMAGENT_DEBUG=1`` shows it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mmagent._messages import one_line
from mmagent.errors import InputError, MMAgentError, PlanningError, ToolError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="mmagent: an LLM schedules multimodal work on model tools.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="mmagent.yaml to use")]
ProfileOpt = Annotated[str | None, typer.Option(help="offline | default (overrides the file)")]


def _exit_code(e: MMAgentError) -> int:
    if isinstance(e, ToolError) and not isinstance(e, InputError):
        return 4
    if isinstance(e, PlanningError):
        return 3
    return 2


def _quiet_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # e.g. transformers' GGUF conversion bar
    # set before torch loads: spinning OpenMP threads stall each other on small machines
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if not os.environ.get("MMAGENT_DEBUG"):  # e.g. torch's FutureWarnings: errors stay one line
        warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING if os.environ.get("MMAGENT_DEBUG") else
                        logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def run(
    prompt: Annotated[str, typer.Argument(help="what you want done, in words")],
    image: Annotated[list[Path] | None, typer.Option("--image", "-i", help="an image file; "
                                                     "repeatable")] = None,
    audio: Annotated[list[Path] | None, typer.Option("--audio", "-a", help="an audio file; "
                                                     "repeatable")] = None,
    video: Annotated[list[Path] | None, typer.Option("--video", help="a video file; "
                                                     "repeatable")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object and nothing "
                                          "else")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
    save_plan: Annotated[Path | None, typer.Option("--save-plan", help="save the LLM's plan as "
                                                   "a workflow YAML file that `mmagent workflow "
                                                   "run` runs again without the LLM")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="ask before tools that need "
                                          "approval (config executor.approval); without it "
                                          "such a run pauses")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="recompute every task instead of "
                                           "reusing cached results")] = False,
) -> None:
    """Plan PROMPT with the LLM, run the plan on the tools, print the answer and artifacts."""
    from transformers.utils import logging as hf_logging

    from mmagent.agent._agent import Agent

    hf_logging.disable_progress_bar()  # our own events show progress
    agent = Agent(config, profile=profile, use_cache=False if no_cache else None)
    media = {"images": image or [], "audio": audio or [], "video": video or []}
    saver = _PlanSaver(save_plan, prompt, media, agent)
    ask = _ask_approval if approve else None
    if as_json:
        try:
            result = agent.run(prompt, **media, approve=ask)
        except ToolError as e:
            saver.save(getattr(getattr(e, "result", None), "plan", None))
            raise
        saver.save(result.plan)
        # the shape scripts rely on; a paused run's answer names the run id to resume
        print(json.dumps(result.to_json_dict(), indent=2))
        return
    failed = _show_stream(agent, saver.tap(agent.stream(prompt, **media, approve=ask)))
    if saver.save(saver.plan) and save_plan is not None:
        names = " ".join(f"--input {n}=PATH" for n in saver.inputs)
        out.print(f"\nPlan saved to {save_plan}; run it again without the LLM with:\n"
                  f"  mmagent workflow run {save_plan} {names}".rstrip(), soft_wrap=True)
    if failed:
        raise typer.Exit(4)


@app.command()
def learn(
    prompt: Annotated[str, typer.Argument(help="a request the plan answers")],
    plan: Annotated[Path, typer.Argument(help="the plan as a workflow file, e.g. one saved "
                                         "with `mmagent run --save-plan` and corrected")],
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Teach the planner how requests like PROMPT are planned (the local demonstration bank,
    read when planner.learn is true)."""
    from mmagent.agent._agent import Agent

    agent = Agent(config, profile=profile)
    agent.learn(prompt, plan)
    out.print(f"learned: {prompt!r} -> {plan}")
    if not agent.config.planner.learn:
        err.print("[yellow]note: planner.learn is false in this config, so the planner does "
                  "not read the learned plans yet; set planner.learn: true[/yellow]")


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="the run id `mmagent run` printed")],
    decision: Annotated[bool | None, typer.Option("--approve/--reject", help="answer a pending "
                                                  "approval; asked interactively if "
                                                  "omitted")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object and nothing "
                                          "else")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="recompute every task instead of "
                                           "reusing cached results")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Continue a run that was killed, cancelled or paused for approval; finished tasks are
    not run again."""
    from mmagent.agent._agent import Agent

    agent = Agent(config, profile=profile, use_cache=False if no_cache else None)
    answer = _ask_approval if decision is None else decision
    if as_json:
        print(json.dumps(_json_with_run(agent.resume(run_id, approve=answer)), indent=2))
        return
    if _show_stream(agent, agent.stream_resume(run_id, approve=answer), intro=None):
        raise typer.Exit(4)


def _ask_approval(request) -> bool:
    for t in request.tasks:
        err.print(f"[yellow]?[/yellow] {t['task_id']} {t['tool']} {json.dumps(t['args'])}"
                  f"{' — ' + t['reason'] if t['reason'] else ''}", soft_wrap=True)
    return typer.confirm(f"Run {', '.join(request.task_ids)}?", default=False, err=True)


def _json_with_run(result) -> dict:
    data = result.to_json_dict()
    data.update({"run_id": result.run_id, "status": result.status, "skipped": result.skipped,
                 "rejected": result.rejected, "cached": result.cached,
                 "failures": result.failures, "pending_approval": result.pending_approval})
    return data


def _show_stream(agent, events, intro: str | None = "planning...") -> bool:
    from rich.progress import Progress

    failed = False
    progress: Progress | None = None
    bars: dict[str, int] = {}
    if intro:
        out.print(f"[dim]{intro}[/dim]")
    for ev in events:
        if ev.type == "plan":
            table = Table(title=f"Plan (attempt {ev.attempts})", title_justify="left")
            for col in ("task", "tool", "args"):
                table.add_column(col)
            for t in ev.plan.tasks:
                table.add_row(t.id, t.tool, json.dumps(t.args))
            out.print(table)
        elif ev.type == "task_started":
            out.print(f"[cyan]>[/cyan] {ev.task_id} {ev.tool} started")
        elif ev.type == "run_started":
            out.print(f"[dim]run {ev.run_id}{' (resumed)' if ev.resumed else ''}[/dim]")
        elif ev.type == "approval_requested":
            if progress is not None:
                progress.stop()
                progress, bars = None, {}
            waiting = ", ".join(f"{t['task_id']} ({t['tool']})" for t in ev.tasks)
            out.print(f"[yellow]‖[/yellow] paused: {waiting} waits for approval")
        elif ev.type == "task_retrying":
            out.print(f"[yellow]↻[/yellow] {ev.task_id} {ev.tool} attempt {ev.attempt} failed "
                      f"({ev.error}); retrying in {ev.delay_s:.1f}s", soft_wrap=True)
        elif ev.type == "task_progress" and not out.is_terminal:
            pass  # bars only on a terminal; piped output stays plain lines
        elif ev.type == "task_progress":
            if progress is None:
                progress = Progress(console=out, transient=True)
                progress.start()
            if ev.task_id not in bars:
                bars[ev.task_id] = progress.add_task(ev.task_id, total=ev.total)
            progress.update(bars[ev.task_id], completed=ev.step, description=ev.message or
                            ev.task_id)
        elif ev.type == "task_finished":
            shown = {k: (v["uri"] if isinstance(v, dict) and "uri" in v else
                         f"artifact://{v['id']}" if isinstance(v, dict) and "id" in v else v)
                     for k, v in ev.output.items()}
            how = "finished (served from cache)" if getattr(ev, "cached", False) else \
                f"finished in {ev.seconds:.2f}s"
            out.print(f"[green]✓[/green] {ev.task_id} {ev.tool} {how}: {json.dumps(shown)}")
        elif ev.type == "task_failed":
            failed = True
            out.print(f"[red]✗[/red] {ev.task_id} {ev.tool} failed [{ev.code}]: {ev.message}")
        elif ev.type == "answer":
            if progress is not None:
                progress.stop()
            out.print("\n[bold]Answer[/bold]")
            out.print(ev.text, soft_wrap=True, markup=False)
            if ev.artifacts:
                out.print("\n[bold]Artifacts[/bold]")
                for aid in ev.artifacts:
                    ref = agent.store.get(aid)
                    out.print(f"  {ref.kind:5} {ref.mime:10} {agent.artifact_path(ref)}",
                              soft_wrap=True)
    return failed


@app.command()
def tools(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """List the registered tools: kind, input and output types, checkpoint, GPU memory."""
    from rich.markup import escape

    from mmagent.config._config import Config
    from mmagent.tool._catalog import tool_entries
    from mmagent.tool._registry import ToolRegistry

    cfg = Config.load(config, profile=profile)
    reg = ToolRegistry.discover({n: tc.kwargs() for n, tc in cfg.tools.items()})
    if cfg.mcp_servers:
        from mmagent.tool._mcp_client import add_mcp_tools

        add_mcp_tools(reg, cfg.mcp_servers)
    cards = tool_entries(reg)
    if as_json:
        print(json.dumps(cards, indent=2))
        return
    table = Table()
    for col in ("tool", "inputs", "outputs", "checkpoint"):
        table.add_column(col, no_wrap=col == "tool", overflow="fold")
    for c in cards:
        ins = ", ".join(f"{n}: {p['type']}{'' if p['required'] else '?'}"
                        for n, p in c["inputs"].items())
        outs = ", ".join(f"{n}: {p['type']}" for n, p in c["outputs"].items())
        gb = c["resources"]["gpu_memory_gb"]
        kind = c["kind"] + (f", ~{gb:g} GB" if gb else "")
        # escape: rich would read "list[image]" as a markup tag and print "list"
        table.add_row(f"{c['name']}\n[dim]{kind}[/dim]", escape(ins), escape(outs),
                      str(c["checkpoint"]))
    out.print(table)


eval_app = typer.Typer(no_args_is_help=True, help="Evaluate the planner on benchmarks.")
app.add_typer(eval_app, name="eval")


@eval_app.command("taskbench")
def eval_taskbench(
    data: Annotated[Path, typer.Option("--data", help="a TaskBench domain folder (tool_desc.json, "
                                       "data.json, user_requests.json)")],
    limit: Annotated[int | None, typer.Option(help="plan only the first N samples")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object and nothing "
                                          "else")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
    no_retrieval: Annotated[bool, typer.Option("--no-retrieval", help="show every tool card "
                                               "(planner.retrieval_k: 0)")] = False,
    no_demos: Annotated[bool, typer.Option("--no-demos", help="no worked examples "
                                           "(planner.demos_k: 0)")] = False,
    no_constraints: Annotated[bool, typer.Option("--no-constraints", help="decode without the "
                                                 "plan schema (planner.constrained: false)")
                              ] = False,
    demos: Annotated[Path | None, typer.Option(
        "--demos", help="gold TaskBench rows to plan from (JSONL, e.g. train.jsonl with "
        "train_requests.jsonl beside it); never the evaluated rows")] = None,
    holdout: Annotated[int | None, typer.Option(
        help="evaluate N rows held out of --demos (seeded shuffle) instead of data.json; the "
        "rest stay the bank")] = None,
    seed: Annotated[int, typer.Option(help="shuffle seed of --holdout")] = 0,
    no_grounding: Annotated[bool, typer.Option("--no-grounding", help="the LLM plans every "
                                               "request (planner.grounding.enabled: false)")
                            ] = False,
    no_neighbours: Annotated[bool, typer.Option("--no-neighbours", help="grounding without the "
                                                "similar demonstrations' tools as a prior")
                             ] = False,
    no_cards: Annotated[bool, typer.Option("--no-cards", help="grounding without the clauses' "
                                           "similarity to the tool cards")] = False,
) -> None:
    """Plan TaskBench requests with the configured planner and score the plans (no tool runs).

    Demonstrations and step phrases come from --demos only (default: none), never from the
    evaluated rows."""
    from mmagent.agent._agent import make_backend
    from mmagent.config._config import Config
    from mmagent.errors import InputError
    from mmagent.eval._taskbench import (
        evaluate_taskbench,
        holdout_split,
        load_bank_rows,
        load_taskbench,
    )

    cfg = Config.load(config, profile=profile)
    off = {"retrieval_k": 0} if no_retrieval else {}
    off |= {"demos_k": 0} if no_demos else {}
    off |= {"constrained": False} if no_constraints else {}
    ground = {"enabled": False} if no_grounding else {}
    ground |= {"neighbour_weight": 0.0} if no_neighbours else {}
    ground |= {"card_weight": 0.0} if no_cards else {}
    off |= {"grounding": cfg.planner.grounding.model_copy(update=ground)}
    cfg.planner = cfg.planner.model_copy(update=off)
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

    def progress(r) -> None:
        if not as_json:
            mark = "[green]✓[/green]" if r.valid else "[red]✗[/red]"
            err.print(f"{mark} {r.id} ({r.type}) {r.seconds:.1f}s: "
                      f"{' -> '.join(n['task'] for n in r.prediction) or 'no valid plan'}")

    if not as_json:
        source = f"{demos} (held out)" if rows is not None else str(data)
        err.print(f"[dim]planning {total} TaskBench requests from {source} with "
                  f"{len(bank)} bank rows...[/dim]")
    report = evaluate_taskbench(bench, backend, cfg.planner, limit=limit, bank=bank,
                                samples=rows, on_sample=progress)
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    table = Table(title=f"TaskBench {data.name} ({report.count} requests)", title_justify="left")
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    use_ray: Annotated[bool, typer.Option("--ray", help="Ray Serve: a deployment per tool and "
                                          "an ingress (settings: serving.ray)")] = False,
    emit_config: Annotated[Path | None, typer.Option("--emit-config", help="with --ray: write "
                                                     "the Ray Serve config YAML for `serve "
                                                     "deploy` and exit")] = None,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Serve the OpenAI-compatible HTTP API (embedded by default, or on Ray Serve)."""
    from mmagent.serving.launch import run_server

    run_server(host=host, port=port, use_ray=use_ray, emit_config=emit_config, config=config,
               profile=profile, echo=lambda line: out.print(line, markup=False, soft_wrap=True))


@app.command()
def mcp(
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Serve every tool, every workflow and the agent (`run`) as MCP tools over stdio (for MCP
    clients that start the server as a subprocess; `mmagent serve` answers MCP at /mcp)."""
    from mmagent.serving.mcp.service import serve_stdio

    serve_stdio(config, profile=profile)


class _PlanSaver:
    """``mmagent run --save-plan``: keeps the plan the LLM made and writes it as a workflow."""

    def __init__(self, path: Path | None, prompt: str, media: dict[str, list[Path]],
                 agent) -> None:
        self.path, self.prompt, self.agent = path, prompt, agent
        self.inputs = {f"{kind}{i}": kind for kind, key in
                       (("image", "images"), ("audio", "audio"), ("video", "video"))
                       for i in range(len(media[key]))}
        self.plan = None

    def tap(self, events):
        for ev in events:
            if ev.type == "plan":
                self.plan = ev.plan
            yield ev

    def save(self, plan) -> bool:
        if self.path is None or plan is None:
            return False
        from mmagent.workflows._convert import plan_to_workflow

        self.path.write_text(plan_to_workflow(plan, self.inputs, self.agent.registry,
                                              description=self.prompt))
        if self.agent.config.planner.learn:  # a plan the user kept is one to plan from
            self.agent.learn(self.prompt, plan, self.inputs)
        return True


workflow_app = typer.Typer(no_args_is_help=True, help="YAML workflows (graphs/): validate, run, "
                           "list, schema.")
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("validate")
def workflow_validate(
    files: Annotated[list[Path], typer.Argument(help="workflow YAML files")],
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Check workflow files against the registered tools; nothing runs. Exit 2 on a problem."""
    from mmagent.config._config import Config
    from mmagent.tool._registry import ToolRegistry
    from mmagent.workflows._parse import load_workflow

    cfg = Config.load(config, profile=profile)
    reg = ToolRegistry.discover({n: tc.kwargs() for n, tc in cfg.tools.items()})
    bad = 0
    for f in files:
        try:
            problems = load_workflow(f).problems(reg, cfg.limits)
        except MMAgentError as e:
            problems = [e]
        for e in problems:
            err.print(f"error[{e.code}]: {one_line(e.message)}", markup=False, soft_wrap=True)
        if problems:
            bad += 1
        else:
            wf = load_workflow(f)
            tools = sorted({n.tool for n in wf.nodes.values()})
            out.print(f"[green]✓[/green] {f}: {len(wf.nodes)} nodes ({', '.join(tools)}), "
                      f"inputs {sorted(wf.inputs)}, outputs {sorted(wf.outputs)}",
                      soft_wrap=True)
    if bad:
        raise typer.Exit(2)


@workflow_app.command("run")
def workflow_run(
    workflow: Annotated[str, typer.Argument(help="a workflow file, or the name of a shipped or "
                                            "configured one (`mmagent workflow list`)")],
    input: Annotated[list[str] | None, typer.Option("--input", "-i", help="name=value; media "
                                                    "values are file paths; repeat a list "
                                                    "input's name for each item")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object and nothing "
                                          "else")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Run a workflow on the tools (no LLM) and print the outputs and artifacts."""
    from transformers.utils import logging as hf_logging

    from mmagent.agent._agent import Agent
    from mmagent.artifacts._provenance import SUFFIXES, embedded_workflow, from_media
    from mmagent.workflows._convert import coerce_cli_value
    from mmagent.workflows._library import resolve_workflow

    hf_logging.disable_progress_bar()
    agent = Agent(config, profile=profile)
    embedded = Path(workflow).suffix.lower() in SUFFIXES
    if embedded:  # a PNG/WAV/MP4 carrying the workflow that made it
        wf = embedded_workflow(workflow)
    else:
        wf = resolve_workflow(workflow, agent.workflows())
    values: dict[str, object] = {}
    for item in input or []:
        name, sep, text = item.partition("=")
        if not sep:
            raise InputError(f"got --input {item!r}; expected name=value")
        spec = wf.inputs.get(name)
        if spec is None or not spec.type.startswith("list["):
            if name in values:
                raise InputError(f"got --input {name}= twice; expected it once (input {name!r} "
                                 "is not a list)")
            values[name] = coerce_cli_value(spec.type, text) if spec else text
        else:
            values.setdefault(name, []).append(coerce_cli_value(spec.type, text))
    if embedded:
        wf, values = from_media(workflow, agent.store, values)
    if as_json:
        result = agent.run_workflow(wf, values)
        print(json.dumps({**result.to_json_dict(), "run_id": result.run_id,
                          "status": result.status, "outputs": result.named_outputs}, indent=2))
        return
    failed = _show_stream(agent, agent.stream_workflow(wf, values),
                          intro=f"running workflow {wf.name}...")
    if failed:
        raise typer.Exit(4)


@workflow_app.command("list")
def workflow_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """List the shipped and configured workflows with their inputs."""
    from mmagent.config._config import Config
    from mmagent.workflows._library import find_workflows
    from mmagent.workflows._parse import load_workflow

    cfg = Config.load(config, profile=profile)
    rows = []
    for name, path in find_workflows(cfg.workflows.paths).items():
        wf = load_workflow(path)
        rows.append({"name": name, "path": str(path), "description": wf.description,
                     "inputs": {n: s.type + ("" if s.required else "?")
                                for n, s in wf.inputs.items()},
                     "outputs": sorted(wf.outputs)})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table()
    for col in ("workflow", "inputs", "outputs", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], ", ".join(f"{n}: {t}" for n, t in r["inputs"].items()),
                      ", ".join(r["outputs"]), r["description"])
    out.print(table)


@workflow_app.command("schema")
def workflow_schema() -> None:
    """Print the JSON Schema of workflow files (graphs/workflow.schema.json)."""
    from mmagent.workflows._library import json_schema

    print(json.dumps(json_schema(), indent=2))


def main() -> None:
    _quiet_libraries()
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except MMAgentError as e:
        if os.environ.get("MMAGENT_DEBUG"):
            raise
        err.print(f"error[{e.code}]: {one_line(e.message)}", markup=False, soft_wrap=True)
        sys.exit(_exit_code(e))
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # click usage errors and the unexpected: still one line
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("MMAGENT_DEBUG"):
            raise
        err.print(f"error[internal]: {type(e).__name__}: {one_line(str(e))} (set "
                  "MMAGENT_DEBUG=1 for the traceback)", markup=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
