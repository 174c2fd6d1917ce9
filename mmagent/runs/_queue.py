"""The runs API's records: one row per run (owner, status, request, result) and its events.

Both live in the state database (SQLite or Postgres, :mod:`mmagent.stores`), so any server
replica on the same database can report a run, replay its events, cancel or approve it, and
take the next queued run. Events are numbered from 1 per run; a client resumes a stream after
the last number it saw (SSE ``Last-Event-ID``).

Statuses: ``queued`` -> ``running`` -> ``completed | failed | cancelled | awaiting_approval |
awaiting_client``; an approved run, or one whose client answered its function calls (the
answers are in the run journal), goes back to ``queued`` and is resumed where it paused.

>>> q = RunQueue(open_database(None))
>>> q.create("r1", "owner-a", {"prompt": "hi"}).status
'queued'
>>> q.claim("owner-a", limit=1).id, q.claim("owner-a", limit=1)   # one at a time per owner
('r1', None)
>>> q.append_event("r1", '{"type": "answer"}'), q.events("r1", after=0)
(1, [(1, '{"type": "answer"}')])
"""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import dataclass
from typing import Any

from mmagent.errors import UnknownRunError
from mmagent.runs._status import RunStatus
from mmagent.stores._sql import Database, open_database  # noqa: F401  (the doctest uses it)

__all__ = ["RunQueue", "QueuedRun"]

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS mmagent_api_runs (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL,
        request TEXT NOT NULL, agent_run_id TEXT, result TEXT, error TEXT,
        decision TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0,
        created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS mmagent_api_runs_owner ON mmagent_api_runs (owner, status)",
    "CREATE INDEX IF NOT EXISTS mmagent_api_runs_agent ON mmagent_api_runs (agent_run_id)",
    """CREATE TABLE IF NOT EXISTS mmagent_api_events (
        run_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq))""",
]
_COLUMNS = ("id, owner, status, request, agent_run_id, result, error, decision, "
            "cancel_requested, created, updated")


@dataclass
class QueuedRun:
    """One run of the runs API as stored."""

    id: str
    owner: str
    status: RunStatus
    request: dict[str, Any]
    agent_run_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    decision: Any = None
    cancel_requested: bool = False
    created: float = 0.0
    updated: float = 0.0


class RunQueue:
    """Runs of the runs API and their events, in a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.create_schema(_SCHEMA)

    # -- runs ----------------------------------------------------------------------------------

    def create(self, run_id: str, owner: str, request: dict[str, Any]) -> QueuedRun:
        now = time.time()
        self.db.execute(f"INSERT INTO mmagent_api_runs ({_COLUMNS}) VALUES "
                        "(?, ?, 'queued', ?, NULL, NULL, NULL, NULL, 0, ?, ?)",
                        (run_id, owner, json.dumps(request), now, now))
        return self.get(run_id)

    def adopt(self, run_id: str, owner: str, request: dict[str, Any], agent_run_id: str,
              result: dict[str, Any], status: RunStatus = "awaiting_approval") -> QueuedRun:
        """Record a run that another surface (chat, Responses, MCP) started and that paused
        (``status``: for approval, or for its client's functions): answering it over this API
        resumes it (``agent_run_id``) on whichever instance takes it."""
        now = time.time()
        self.db.execute(f"INSERT INTO mmagent_api_runs ({_COLUMNS}) VALUES "
                        "(?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, ?)",
                        (run_id, owner, status, json.dumps(request), agent_run_id,
                         json.dumps(result), now, now))
        return self.get(run_id)

    def of_agent_run(self, agent_run_id: str) -> QueuedRun | None:
        """The run of this API that carries the executor's run ``agent_run_id``, if any."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM mmagent_api_runs WHERE agent_run_id = ? "
                               "ORDER BY created DESC LIMIT 1", (agent_run_id,))
        return _record(rows[0]) if rows else None

    def get(self, run_id: str, owner: str | None = None) -> QueuedRun:
        """The run; :class:`UnknownRunError` if there is none or ``owner`` is not its owner
        (the same error, so ids of other keys' runs leak nothing)."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM mmagent_api_runs WHERE id = ?",
                               (run_id,))
        if not rows or (owner is not None and rows[0][1] != owner):
            raise UnknownRunError(f"got run id {run_id[:80]!r}; expected the id of a run "
                                  "created with this API key", run_id=run_id[:80])
        return _record(rows[0])

    def list(self, owner: str, limit: int = 50) -> builtins.list[QueuedRun]:
        """``owner``'s runs, newest first."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM mmagent_api_runs WHERE owner = ? "
                               "ORDER BY created DESC LIMIT ?", (owner, limit))
        return [_record(r) for r in rows]

    def owners_waiting(self) -> builtins.list[str]:
        """Owners with queued runs."""
        return [o for (o,) in self.db.execute(
            "SELECT DISTINCT owner FROM mmagent_api_runs WHERE status = 'queued'")]

    def claim(self, owner: str, limit: int) -> QueuedRun | None:
        """Take ``owner``'s oldest queued run (status -> running) if fewer than ``limit`` of
        their runs are running; None otherwise. Safe against other replicas claiming at the
        same time (one transaction; on Postgres under a per-owner advisory lock)."""
        with self.db.transaction() as cur:
            if self.db.dialect == "postgres":
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (owner,))
            (running,), = cur.execute("SELECT COUNT(*) FROM mmagent_api_runs WHERE owner = ? "
                                      "AND status = 'running'", (owner,))
            if running >= limit:
                return None
            rows = cur.execute("SELECT id FROM mmagent_api_runs WHERE owner = ? AND status = "
                               "'queued' ORDER BY created LIMIT 1", (owner,))
            if not rows:
                return None
            cur.execute("UPDATE mmagent_api_runs SET status = 'running', updated = ? "
                        "WHERE id = ?", (time.time(), rows[0][0]))
        return self.get(rows[0][0])

    def transition(self, run_id: str, from_statuses: tuple[str, ...], to: RunStatus,
                   **fields: Any) -> bool:
        """Set ``to`` (and ``fields``: result, error, decision, agent_run_id) if the run's
        status is one of ``from_statuses``; False if it was not (someone else moved it)."""
        sets = ["status = ?", "updated = ?"]
        args: builtins.list[Any] = [to, time.time()]
        for name, value in fields.items():
            assert name in ("result", "error", "decision", "agent_run_id", "cancel_requested")
            sets.append(f"{name} = ?")
            args.append(value if name in ("agent_run_id", "cancel_requested")
                        else json.dumps(value))
        marks = ", ".join("?" for _ in from_statuses)
        # one conditional UPDATE: the check and the write are one statement, so of replicas
        # moving the same run at once exactly one sees its row come back
        rows = self.db.execute(f"UPDATE mmagent_api_runs SET {', '.join(sets)} WHERE id = ? "
                               f"AND status IN ({marks}) RETURNING id",
                               (*args, run_id, *from_statuses))
        return bool(rows)

    def heartbeat(self, run_id: str) -> None:
        """The instance running ``run_id`` is alive (see :meth:`requeue_stale`)."""
        self.db.execute("UPDATE mmagent_api_runs SET updated = ? WHERE id = ? AND status = "
                        "'running'", (time.time(), run_id))

    def requeue_stale(self, lease_s: float) -> builtins.list[str]:
        """Queue again the running runs without a heartbeat for ``lease_s`` (their instance
        died); the ids. A requeued run that had started resumes from its checkpoints, with
        the approval it was resumed with if it had been paused (asked once, answered once)."""
        cutoff = time.time() - lease_s
        stale = [r for (r,) in self.db.execute(
            "SELECT id FROM mmagent_api_runs WHERE status = 'running' AND updated < ?",
            (cutoff,))]
        return [r for r in stale if self._requeue(r, cutoff)]

    def _requeue(self, run_id: str, cutoff: float) -> bool:
        # the decision stays: an approval given before the instance died still holds
        rows = self.db.execute("UPDATE mmagent_api_runs SET status = 'queued', updated = ? "
                               "WHERE id = ? AND status = 'running' AND updated < ? "
                               "RETURNING id", (time.time(), run_id, cutoff))
        return bool(rows)

    def set_agent_run_id(self, run_id: str, agent_run_id: str) -> None:
        self.db.execute("UPDATE mmagent_api_runs SET agent_run_id = ? WHERE id = ?",
                        (agent_run_id, run_id))

    def request_cancel(self, run_id: str) -> None:
        self.db.execute("UPDATE mmagent_api_runs SET cancel_requested = 1, updated = ? "
                        "WHERE id = ?", (time.time(), run_id))

    def cancel_requested(self, run_id: str) -> bool:
        rows = self.db.execute("SELECT cancel_requested FROM mmagent_api_runs WHERE id = ?",
                               (run_id,))
        return bool(rows and rows[0][0])

    # -- events --------------------------------------------------------------------------------

    def append_event(self, run_id: str, data: str) -> int:
        """Store one event (JSON text); its number, from 1."""
        with self.db.transaction() as cur:
            (last,), = cur.execute("SELECT COALESCE(MAX(seq), 0) FROM mmagent_api_events "
                                   "WHERE run_id = ?", (run_id,))
            cur.execute("INSERT INTO mmagent_api_events VALUES (?, ?, ?)",
                        (run_id, last + 1, data))
        return last + 1

    def events(self, run_id: str, after: int = 0,
               limit: int = 500) -> builtins.list[tuple[int, str]]:
        """(number, JSON text) of the events after number ``after``, in order."""
        return [(s, d) for s, d in self.db.execute(
            "SELECT seq, data FROM mmagent_api_events WHERE run_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?", (run_id, after, limit))]


def _record(row: tuple) -> QueuedRun:
    (run_id, owner, status, request, agent_run_id, result, error, decision, cancel, created,
     updated) = row

    def load(text):
        return json.loads(text) if text is not None else None

    return QueuedRun(run_id, owner, status, json.loads(request), agent_run_id, load(result),
                     load(error), load(decision), bool(cancel), created, updated)


