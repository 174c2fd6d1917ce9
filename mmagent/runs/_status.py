"""The run statuses, written once: the executor's journal, the runs API's queue, its wire shapes,
the SDK's results and the client all speak this set.

- ``queued``: accepted by the runs API, not yet taken by a worker (the journal never holds it);
- ``running``: tasks are being scheduled;
- ``awaiting_approval``: paused until a human answers (``resume`` / ``POST .../approve``);
- ``awaiting_client``: paused until the client answers the functions it runs itself (OpenAI
  function calling: ``resume(run_id, outputs=...)`` / a ``tool`` message);
- ``completed``: every task ran, or was skipped by a decision, and none failed;
- ``failed``: a task (or the run around it) failed;
- ``cancelled``: cancel was asked; running tasks finished and nothing new started.

Derived sets, for the questions callers ask of a status:

>>> sorted(FINISHED), sorted(FINAL - FINISHED), sorted(STOPPED - FINAL)
(['completed', 'failed'], ['cancelled'], ['awaiting_approval', 'awaiting_client'])
"""

from __future__ import annotations

from typing import Literal

__all__ = ["RunStatus", "FINISHED", "FINAL", "STOPPED"]

RunStatus = Literal["queued", "running", "awaiting_approval", "awaiting_client", "completed",
                    "failed", "cancelled"]

FINISHED: frozenset[str] = frozenset({"completed", "failed"})
"""A journal run that cannot be continued: ``resume`` refuses it (a cancelled or paused run,
and one killed while ``running``, can be resumed)."""
FINAL: frozenset[str] = FINISHED | {"cancelled"}
"""A runs API run after which nothing more happens to it (the API does not resume a cancel)."""
STOPPED: frozenset[str] = FINAL | {"awaiting_approval", "awaiting_client"}
"""No worker holds the run: its event stream ends, a client's ``wait`` returns."""
