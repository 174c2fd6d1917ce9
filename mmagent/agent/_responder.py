"""The responder: the final answer text, citing the artifacts the run produced.

Two kinds: :class:`TemplateResponder` (deterministic; used for workflows and small offline
models) and :class:`LLMResponder` (asks the chat backend to write the answer from the results).
Either way every produced artifact is cited as ``artifact://<id>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from mmagent.artifacts._store import ArtifactRef, ArtifactStore
from mmagent.execution._executor import ExecutionResult
from mmagent.plan._ir import Plan
from mmagent.planner._backends import ChatBackend

__all__ = ["Answer", "Responder", "TemplateResponder", "LLMResponder", "produced_artifacts"]


@dataclass
class Answer:
    text: str
    artifacts: list[ArtifactRef]


class Responder(Protocol):
    def respond(self, request: str, plan: Plan, result: ExecutionResult) -> Answer: ...


def produced_artifacts(plan: Plan, result: ExecutionResult) -> list[tuple[str, str, ArtifactRef]]:
    """(task id, field, ref) for every artifact the run produced, in plan order."""
    out = []
    for t in plan.tasks:
        for fname, value in result.outputs.get(t.id, {}).items():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict) and v.get("kind") in ("image", "audio", "video"):
                    out.append((t.id, fname, ArtifactRef.model_validate(v)))
    return out


def _texts(plan: Plan, result: ExecutionResult) -> list[tuple[str, str, str]]:
    """(task, tool, text) of every text result; a task over a list gives one per item, its
    task named ``t2 #1``, ``t2 #2``, ..."""
    out = []
    for t in plan.tasks:
        for v in result.outputs.get(t.id, {}).values():
            if isinstance(v, str):
                out.append((t.id, t.tool, v))
            elif t.each is not None and isinstance(v, list):
                out += [(f"{t.id} #{k}", t.tool, x) for k, x in enumerate(v, 1)
                        if isinstance(x, str)]
    return out


def _citations(plan: Plan, result: ExecutionResult, store: ArtifactStore) -> list[str]:
    return [f"{ref.kind} from {task_id} ({plan.task(task_id).tool}): {ref.uri} "
            f"saved at {store.path(ref)}" for task_id, _f, ref in produced_artifacts(plan, result)]


def _problems(plan: Plan, result: ExecutionResult) -> list[str]:
    lines = [f.message for f in result.failures.values()]
    lines += [f"task {t!r} ({plan.task(t).tool}) was rejected: not approved" for t in
              result.rejected]
    lines += [f"task {t!r} ({plan.task(t).tool}) was skipped: "
              f"{result.skip_reasons.get(t, 'an input it needs failed')}"
              for t in result.skipped]
    return lines


class TemplateResponder:
    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def respond(self, request: str, plan: Plan, result: ExecutionResult) -> Answer:
        lines = [f"{tool} ({task_id}): {text}" for task_id, tool, text in _texts(plan, result)]
        cites = _citations(plan, result, self.store)
        if cites:
            lines.append("Produced:")
            lines += [f"- {c}" for c in cites]
        lines += _problems(plan, result)
        return Answer("\n".join(lines) or "The plan ran and produced no output.",
                      [r for _t, _f, r in produced_artifacts(plan, result)])


class LLMResponder:
    def __init__(self, backend: ChatBackend, store: ArtifactStore, max_tokens: int = 256) -> None:
        self.backend = backend
        self.store = store
        self.max_tokens = max_tokens

    def respond(self, request: str, plan: Plan, result: ExecutionResult) -> Answer:
        facts = {
            "text_results": {f"{tid} ({tool})": text for tid, tool, text in _texts(plan, result)},
            "artifacts": [{"task": t, "kind": r.kind, "link": r.uri}
                          for t, _f, r in produced_artifacts(plan, result)],
            "problems": _problems(plan, result),
        }
        messages = [
            {"role": "system", "content": "Answer the user's request in a few sentences from "
             "the results of the tools that ran. Mention each produced file by its artifact:// "
             "link. Do not invent results."},
            {"role": "user", "content": f"Request: {request}\nResults: {json.dumps(facts)}"},
        ]
        text = self.backend.complete(messages, max_tokens=self.max_tokens).text.strip()
        refs = [r for _t, _f, r in produced_artifacts(plan, result)]
        missing = [c for c, r in zip(_citations(plan, result, self.store), refs, strict=True)
                   if r.uri not in text]
        if missing:  # the citations are not optional, whatever the model wrote
            text += "\n" + "\n".join(f"- {c}" for c in missing)
        return Answer(text, refs)
