"""The planner's prompt: rules, tool cards, worked examples, the request and its inputs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mmagent.artifacts._store import ArtifactRef
from mmagent.planner._backends import Message

if TYPE_CHECKING:
    from mmagent.plan._ir import Plan
    from mmagent.planner._demos import Demo

__all__ = ["build_messages", "demo_turns", "repair_message", "replan_message",
           "describe_inputs"]

_RULES = """\
You are the planner of mmagent. Turn the user's request into a plan: a JSON object
{"deliver": [...], "tasks": [...]}. "deliver" lists the kinds of result the user asked for
(text, image, audio, video). Each task is {"id": "t1", "tool": "<tool name>", "args": {...}}.
Number tasks t1, t2, t3, ... in order. An argument is either a literal value or a reference:
"$input.<name>" is an input of the request, "$t<k>.<field>" is an output field of the earlier
task t<k>. Only wire an output into an input of the same type. Use only the tools listed below,
and only as many tasks as the request needs. Answer with the JSON object only."""

_MIMES = {"image": "image/jpeg", "audio": "audio/wav", "video": "video/mp4"}


def _card_line(card: dict[str, Any]) -> str:
    ins = ", ".join(f"{n}: {p['type']}{'' if p['required'] else ' (optional)'}"
                    for n, p in card["inputs"].items())
    outs = ", ".join(f"{n}: {p['type']}" for n, p in card["outputs"].items())
    return f"- {card['name']}: {card['description']}\n  inputs: {ins}\n  outputs: {outs}"


def describe_inputs(inputs: dict[str, ArtifactRef]) -> str:
    if not inputs:
        return "(none)"
    parts = []
    for name, ref in inputs.items():
        extra = f", {ref.width}x{ref.height}" if ref.width else ""
        extra += f", {ref.duration_s:.1f} s" if ref.duration_s else ""
        parts.append(f"$input.{name} ({ref.kind}, {ref.mime}{extra})")
    return "; ".join(parts)


def build_messages(request: str, inputs: dict[str, ArtifactRef], cards: list[dict[str, Any]],
                   demos: list[Demo] | None = None) -> list[Message]:
    """System rules and tool cards, the demonstrations as earlier turns, then the request."""
    system = _RULES + "\n\nTools:\n" + "\n".join(_card_line(c) for c in cards)
    messages: list[Message] = [{"role": "system", "content": system}]
    messages += demo_turns(demos or [])
    messages.append({"role": "user",
                     "content": f"Request: {request}\nInputs: {describe_inputs(inputs)}"})
    return messages


def demo_turns(demos: list[Demo]) -> list[Message]:
    """Each demonstration as a user turn (request and inputs) and the assistant's plan, compact
    as constrained decoding writes it."""
    turns: list[Message] = []
    for demo in demos:
        ins = "; ".join(f"$input.{n} ({k}, {_MIMES.get(k, k)})" for n, k in demo.inputs.items())
        plan = demo.plan.model_dump(mode="json")
        turns += [{"role": "user",
                   "content": f"Request: {demo.request}\nInputs: {ins or '(none)'}"},
                  {"role": "assistant", "content": json.dumps(plan, separators=(",", ":"))}]
    return turns


def repair_message(problems: list[str]) -> Message:
    listed = "\n".join(f"- {p}" for p in problems)
    return {"role": "user", "content": f"That plan is not valid:\n{listed}\n"
                                       "Return a corrected plan as a JSON object only."}


def replan_message(plan: Plan, failures: dict[str, str], kept: dict[str, dict[str, Any]],
                   given: dict[str, str], dropped: list[str], start: int,
                   avoid: set[str]) -> Message:
    """Asks for tasks replacing the ones that failed (and those depending on them)."""
    failed = "\n".join(f"- {tid} ({plan.task(tid).tool}): {msg}" for tid, msg in failures.items()
                       if tid in {t.id for t in plan.tasks})
    results = []
    for ref, kind in given.items():
        source, field = ref[1:].split(".", 1)
        value = kept.get(source, {}).get(field)
        shown = f" = {json.dumps(value)[:80]}" if isinstance(value, str) else ""
        results.append(f"{ref} ({kind}){shown}")
    avoid_line = (f" Do not use {', '.join(sorted(avoid))} again: it failed."
                  if avoid else "")
    return {"role": "user", "content":
            f"Running that plan failed:\n{failed}\n"
            f"Kept results you can use: {'; '.join(results) or '(none)'}.\n"
            f"Tasks {', '.join(dropped)} are dropped. Return a JSON object "
            '{"deliver": [...], "tasks": [...]} with only the new tasks that replace them, '
            f"numbered from t{start}; they may use the request's inputs and the kept results."
            + avoid_line}
