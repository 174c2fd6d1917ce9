"""The planner's prompt: rules, tool cards, a worked example, the request and its inputs."""

from __future__ import annotations

import json
from typing import Any

from ..artifacts import ArtifactRef
from .backends import Message

__all__ = ["build_messages", "repair_message", "describe_inputs"]

_RULES = """\
You are the planner of mmagent. Turn the user's request into a plan: a JSON object
{"deliver": [...], "tasks": [...]}. "deliver" lists the kinds of result the user asked for
(text, image, audio, video). Each task is {"id": "t1", "tool": "<tool name>", "args": {...}}.
Number tasks t1, t2, t3, ... in order. An argument is either a literal value or a reference:
"$input.<name>" is an input of the request, "$t<k>.<field>" is an output field of the earlier
task t<k>. Only wire an output into an input of the same type. Use only the tools listed below,
and only as many tasks as the request needs. Answer with the JSON object only."""

_CAPTION = {"id": "t1", "tool": "image_caption", "args": {"image": "$input.image0"}}
_EXAMPLES = [  # (request, plan): worked examples for the two starting tools
    ("Describe this picture.", {"deliver": ["text"], "tasks": [_CAPTION]}),
    ("Describe this picture and read the description out loud.", {"deliver": ["text", "audio"],
                                                                  "tasks": [
        _CAPTION, {"id": "t2", "tool": "text_to_speech", "args": {"text": "$t1.text"}}]}),
]


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


def build_messages(request: str, inputs: dict[str, ArtifactRef],
                   cards: list[dict[str, Any]]) -> list[Message]:
    names = {c["name"] for c in cards}
    system = _RULES + "\n\nTools:\n" + "\n".join(_card_line(c) for c in cards)
    messages: list[Message] = [{"role": "system", "content": system}]
    if {"image_caption", "text_to_speech"} <= names:  # worked examples, when they apply
        for request_text, plan in _EXAMPLES:
            messages += [
                {"role": "user", "content": f"Request: {request_text}\n"
                                            "Inputs: $input.image0 (image, image/jpeg)"},
                # compact, as constrained decoding writes it
                {"role": "assistant", "content": json.dumps(plan, separators=(",", ":"))},
            ]
    messages.append({"role": "user",
                     "content": f"Request: {request}\nInputs: {describe_inputs(inputs)}"})
    return messages


def repair_message(problems: list[str]) -> Message:
    listed = "\n".join(f"- {p}" for p in problems)
    return {"role": "user", "content": f"That plan is not valid:\n{listed}\n"
                                       "Return a corrected plan as a JSON object only."}
