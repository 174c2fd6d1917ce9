"""``mmagent run``, ``resume`` and ``learn``: plan a request with the LLM and run it, continue
a run, teach the planner a plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmagent.cli._display import ask_approval, err, out, show_stream
from mmagent.cli._options import ConfigOpt, JsonOpt, NoCacheOpt, ProfileOpt
from mmagent.errors import ToolError

__all__ = ["run", "learn", "resume"]


def run(
    prompt: Annotated[str, typer.Argument(help="what you want done, in words")],
    image: Annotated[list[Path] | None, typer.Option("--image", "-i", help="an image file; "
                                                     "repeatable")] = None,
    audio: Annotated[list[Path] | None, typer.Option("--audio", "-a", help="an audio file; "
                                                     "repeatable")] = None,
    video: Annotated[list[Path] | None, typer.Option("--video", help="a video file; "
                                                     "repeatable")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
    save_plan: Annotated[Path | None, typer.Option("--save-plan", help="save the LLM's plan as "
                                                   "a workflow YAML file that `mmagent workflow "
                                                   "run` runs again without the LLM")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="ask before tools that need "
                                          "approval (config executor.approval); without it "
                                          "such a run pauses")] = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Plan PROMPT with the LLM, run the plan on the tools, print the answer and artifacts."""
    from transformers.utils import logging as hf_logging

    from mmagent.agent._agent import Agent

    hf_logging.disable_progress_bar()  # our own events show progress
    agent = Agent(config, profile=profile, use_cache=False if no_cache else None)
    media = {"images": image or [], "audio": audio or [], "video": video or []}
    saver = _PlanSaver(save_plan, prompt, media, agent)
    ask = ask_approval if approve else None
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
    failed = show_stream(agent, saver.tap(agent.stream(prompt, **media, approve=ask)))
    if saver.save(saver.plan) and save_plan is not None:
        names = " ".join(f"--input {n}=PATH" for n in saver.inputs)
        out.print(f"\nPlan saved to {save_plan}; run it again without the LLM with:\n"
                  f"  mmagent workflow run {save_plan} {names}".rstrip(), soft_wrap=True)
    if failed:
        raise typer.Exit(4)


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


def resume(
    run_id: Annotated[str, typer.Argument(help="the run id `mmagent run` printed")],
    decision: Annotated[bool | None, typer.Option("--approve/--reject", help="answer a pending "
                                                  "approval; asked interactively if "
                                                  "omitted")] = None,
    as_json: JsonOpt = False,
    no_cache: NoCacheOpt = False,
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Continue a run that was killed, cancelled or paused for approval; finished tasks are
    not run again."""
    from mmagent.agent._agent import Agent

    agent = Agent(config, profile=profile, use_cache=False if no_cache else None)
    answer = ask_approval if decision is None else decision
    if as_json:
        print(json.dumps(_json_with_run(agent.resume(run_id, approve=answer)), indent=2))
        return
    if show_stream(agent, agent.stream_resume(run_id, approve=answer), intro=None):
        raise typer.Exit(4)


def _json_with_run(result) -> dict:
    data = result.to_json_dict()
    data.update({"run_id": result.run_id, "status": result.status, "skipped": result.skipped,
                 "rejected": result.rejected, "cached": result.cached,
                 "failures": result.failures, "pending_approval": result.pending_approval})
    return data


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
