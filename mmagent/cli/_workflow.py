"""``mmagent workflow validate | run | list | schema``: YAML workflows, run without the LLM."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mmagent._messages import one_line
from mmagent.cli._display import PAUSED_EXIT, err, out, show_stream
from mmagent.cli._options import ConfigOpt, JsonListOpt, JsonOpt, ProfileOpt, load_config
from mmagent.errors import InputError, MMAgentError

__all__ = ["workflow_validate", "workflow_run", "workflow_list", "workflow_schema"]


def workflow_validate(
    files: Annotated[list[Path], typer.Argument(help="workflow YAML files")],
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Check workflow files against the registered tools; nothing runs. Exit 2 on a problem."""
    from mmagent.toolkit._registry import ToolRegistry
    from mmagent.workflows._parse import load_workflow

    cfg = load_config(config, profile)
    reg = ToolRegistry.discover({n: tc.kwargs() for n, tc in cfg.tools.items()})
    bad = 0
    for f in files:
        problems: Sequence[MMAgentError]
        try:
            problems = load_workflow(f).problems(reg, cfg.limits)
        except MMAgentError as e:
            problems = [e]
        for problem in problems:
            err.print(f"error[{problem.code}]: {one_line(problem.message)}", markup=False,
                      soft_wrap=True)
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


def workflow_run(
    workflow: Annotated[str, typer.Argument(help="a workflow file, or the name of a shipped or "
                                            "configured one (`mmagent workflow list`)")],
    input: Annotated[list[str] | None, typer.Option("--input", "-i", help="name=value; media "
                                                    "values are file paths; repeat a list "
                                                    "input's name for each item")] = None,
    as_json: JsonOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="run a PNG/WAV/MP4's embedded "
                                      "workflow without asking (it is shown first)")] = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Run a workflow on the tools (no LLM) and print the outputs and artifacts. A PNG, WAV
    or MP4's embedded workflow is shown with what it reads and runs only if you agree."""
    cfg = load_config(config, profile)  # a bad file fails before the heavy imports below
    from transformers.utils import logging as hf_logging

    from mmagent.agent._agent import Agent
    from mmagent.artifacts._provenance import SUFFIXES, embedded_workflow, from_media
    from mmagent.workflows._convert import coerce_cli_value
    from mmagent.workflows._library import resolve_workflow

    hf_logging.disable_progress_bar()
    agent = Agent(cfg)
    embedded = Path(workflow).suffix.lower() in SUFFIXES
    if embedded:  # a PNG/WAV/MP4 carrying the workflow that made it
        wf = embedded_workflow(workflow)
    else:
        wf = resolve_workflow(workflow, agent.workflows())
    values: dict[str, Any] = {}
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
        from mmagent.cli._consent import confirm_embedded

        wf, values = from_media(workflow, agent.store, values)
        confirm_embedded(workflow, wf, values, yes)
    if as_json:
        result = agent.run_workflow(wf, values)
        print(json.dumps({**result.to_json_dict(), "run_id": result.run_id,
                          "status": result.status, "outputs": result.named_outputs}, indent=2))
        if result.status == "awaiting_approval":
            raise typer.Exit(PAUSED_EXIT)
        return
    failed = show_stream(agent, agent.stream_workflow(wf, values),
                          intro=f"running workflow {wf.name}...")
    if failed:
        raise typer.Exit(4)


def workflow_list(
    as_json: JsonListOpt = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """List the shipped and configured workflows with their inputs."""
    from mmagent.workflows._library import find_workflows
    from mmagent.workflows._parse import load_workflow

    cfg = load_config(config, profile)
    rows: list[dict[str, Any]] = []
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


def workflow_schema() -> None:
    """Print the JSON Schema of workflow files (graphs/workflow.schema.json)."""
    from mmagent.workflows._library import json_schema

    print(json.dumps(json_schema(), indent=2))
