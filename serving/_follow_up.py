"""Approval by a follow-up request on the same conversation, for chat completions and the
Responses API: what an OpenAI client does unchanged.

A paused answer names its run (``POST /v1/runs/<id>/approve``, :func:`~._agent.paused_text`).
The next request of the conversation answers it when its last user message is a word of
consent or refusal (:data:`YES`, :data:`NO`) and the answer before it is that paused answer:

- chat completions: the messages end with the paused assistant message, then the user's
  ``"approve"``;
- Responses: ``previous_response_id`` of the paused response (its stored text names the run)
  with the input ``"approve"``, or the paused answer replayed as an assistant message before it.

The run is one of the runs API already (``AgentService.pauses``): approved, it resumes
there exactly once and the request's answer is the finished run's; refused, it is cancelled. A
run is found with the request's API key only, so no key answers another key's run (it reads
as unknown, 404); a follow-up for a run already answered resumes nothing and answers how it
stands.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from mmagent.errors import RunError
from mmagent.serving._agent import REPLY_HINT, AgentService, RunSummary

__all__ = ["FollowUp", "YES", "NO", "follow_up", "answer"]

YES = frozenset({"approve", "approved", "yes", "y", "ok", "okay", "go ahead", "proceed"})
NO = frozenset({"reject", "rejected", "no", "n", "deny", "cancel"})
_PAUSED = re.compile(r"/v1/runs/(run_[0-9a-f]{32})/approve\b")


@dataclass(frozen=True)
class FollowUp:
    """A request that answers a paused run: its id and the answer."""

    run_id: str
    approve: bool


def follow_up(previous: str | None, reply: str) -> FollowUp | None:
    """The follow-up that ``reply`` (the last user message) makes to ``previous`` (the answer
    before it); None when it is not one (an ordinary request)."""
    word = reply.strip().strip(".!").strip().lower()
    if previous is None or (word not in YES and word not in NO):
        return None
    found = _PAUSED.findall(previous)
    return FollowUp(found[-1], word in YES) if found else None


def answer(shared: AgentService, follow: FollowUp, owner: str, base_url: str,
           cancel: threading.Event | None = None) -> RunSummary:
    """The answer to ``follow``: the run's, once it stops (it ends, is cancelled, or pauses on
    another step, and says so)."""
    if shared.pauses is None:
        raise RunError(f"got an answer for run {follow.run_id}, but this server keeps no paused "
                       "runs; expected a server with the runs API", run_id=follow.run_id)
    info = shared.pauses.decide(follow.run_id, owner, follow.approve, base_url, cancel)
    summary = RunSummary.of_run(info)
    if info.status == "awaiting_approval":
        summary.answer += REPLY_HINT
    elif info.status == "cancelled":
        steps = ", ".join(f"{t['task_id']} ({t['tool']})"
                          for t in info.pending_approval or []) or "the steps it waited for"
        summary.answer = (f"Cancelled: run {follow.run_id} was "
                          f"{'cancelled' if follow.approve else 'not approved'}; "
                          f"{steps} did not run.")
    return summary
