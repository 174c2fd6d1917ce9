"""Durable runs: what a run needs to be continued after a crash or a pause, in one SQLite file.

The file holds LangGraph's own checkpoints (``SqliteSaver``: the entrypoint's input, interrupts
and resume values) and five small tables of ours:

- ``mmagent_runs``: per run id, its plan, its inputs (artifact references), the request meta
  (e.g. the prompt), its status and the current *segment* (the LangGraph thread in use);
- ``mmagent_task_results``: per task, its output JSON (artifacts as references) or its error;
- ``mmagent_approvals``: approval requests asked in a segment, in order;
- ``mmagent_decisions``: per task, the human's yes or no;
- ``mmagent_client_calls``: per call id, a function the client runs itself (its run, task,
  name and arguments) and, once the client answered, its output (answered once).

Why our own task table: the functional API would replay a finished ``@task`` by the order in
which the entrypoint called it, and dataflow calls tasks in the order their inputs happen to
finish, which a resumed run does not repeat. So the executor's scheduler runs tasks itself,
completed outputs are stored by task id, and a resumed run (a fresh LangGraph thread, or the same
one answering an interrupt) reads them back. Nothing here holds media bytes.

>>> store = RunStore(None)                    # in memory; RunStore(path) for a file
>>> store.create("r1", {"tasks": []}, {}, {"prompt": "hi"})
>>> store.get("r1").status
'running'
"""

from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmagent.errors import CallAnsweredError, RunFinishedError, UnknownCallError, UnknownRunError
from mmagent.runs._status import FINISHED, RunStatus
from mmagent.stores._sql import connect_sqlite

__all__ = ["RunStore", "RunRecord", "ClientCall"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mmagent_runs (
    run_id TEXT PRIMARY KEY, status TEXT NOT NULL, segment INTEGER NOT NULL,
    plan TEXT NOT NULL, inputs TEXT NOT NULL, meta TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS mmagent_task_results (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, ok INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, task_id));
CREATE TABLE IF NOT EXISTS mmagent_approvals (
    run_id TEXT NOT NULL, segment INTEGER NOT NULL, idx INTEGER NOT NULL, tasks TEXT NOT NULL,
    PRIMARY KEY (run_id, segment, idx));
CREATE TABLE IF NOT EXISTS mmagent_decisions (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, approved INTEGER NOT NULL,
    PRIMARY KEY (run_id, task_id));
CREATE TABLE IF NOT EXISTS mmagent_client_calls (
    call_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, task_id TEXT NOT NULL, name TEXT NOT NULL,
    arguments TEXT NOT NULL, output TEXT, answered INTEGER NOT NULL, created REAL NOT NULL,
    answered_at REAL);
CREATE INDEX IF NOT EXISTS mmagent_client_calls_run ON mmagent_client_calls (run_id, task_id);
"""


@dataclass
class RunRecord:
    run_id: str
    status: RunStatus
    segment: int
    plan: dict[str, Any]
    inputs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClientCall:
    """A call of a function the client runs itself, as the journal keeps it."""

    call_id: str
    run_id: str
    task_id: str
    name: str
    arguments: dict[str, Any]
    output: str | None = None
    answered: bool = False

    def wire(self) -> dict[str, Any]:
        """{call_id, task_id, name, arguments}: what a client is asked to run."""
        return {"call_id": self.call_id, "task_id": self.task_id, "name": self.name,
                "arguments": self.arguments}


_CALL_COLUMNS = "call_id, run_id, task_id, name, arguments, output, answered"


class RunStore:
    """Run records and LangGraph checkpoints in one SQLite file (``None``: in memory)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self._lock = threading.Lock()
        self._db = connect_sqlite(self.path)
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)
        self._saver = None

    @property
    def saver(self):
        """The LangGraph checkpointer writing to the same file."""
        if self._saver is None:
            if self.path is None:
                from langgraph.checkpoint.memory import InMemorySaver

                self._saver = InMemorySaver()
            else:
                from langgraph.checkpoint.sqlite import SqliteSaver

                self._saver = SqliteSaver(connect_sqlite(self.path))
        return self._saver

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- runs ---------------------------------------------------------------------------------

    def create(self, run_id: str, plan: dict[str, Any], inputs: dict[str, Any],
               meta: dict[str, Any] | None = None) -> None:
        now = time.time()
        self._exec("INSERT INTO mmagent_runs VALUES (?, 'running', 0, ?, ?, ?, ?, ?)",
                   (run_id, json.dumps(plan), json.dumps(inputs), json.dumps(meta or {}), now,
                    now))

    def get(self, run_id: str) -> RunRecord:
        rows = self._exec("SELECT status, segment, plan, inputs, meta FROM mmagent_runs "
                          "WHERE run_id = ?", (run_id,))
        if not rows:
            where = f" in {self.path}" if self.path else ""
            raise UnknownRunError(f"got run id {run_id!r}; no such run is recorded{where} "
                                  "(expected an id printed by `mmagent run`)", run_id=run_id)
        status, segment, plan, inputs, meta = rows[0]
        return RunRecord(run_id, status, segment, json.loads(plan), json.loads(inputs),
                         json.loads(meta))

    def exists(self, run_id: str) -> bool:
        return bool(self._exec("SELECT 1 FROM mmagent_runs WHERE run_id = ?", (run_id,)))

    def resumable(self, run_id: str) -> RunRecord:
        """The record of a run that can be continued; a typed error otherwise."""
        rec = self.get(run_id)
        if rec.status in FINISHED:
            raise RunFinishedError(f"got run id {run_id!r}, which already finished "
                                   f"({rec.status}); expected a run that was interrupted, "
                                   "paused for approval or cancelled", run_id=run_id,
                                   status=rec.status)
        return rec

    def set_status(self, run_id: str, status: RunStatus) -> None:
        self._exec("UPDATE mmagent_runs SET status = ?, updated = ? WHERE run_id = ?",
                   (status, time.time(), run_id))

    def cancel_paused(self, run_id: str) -> bool:
        """Cancel a run that waits for approval or for its client (one conditional write, so
        a resume that got there first wins); False if it was not paused."""
        rows = self._exec("UPDATE mmagent_runs SET status = 'cancelled', updated = ? WHERE "
                          "run_id = ? AND status IN ('awaiting_approval', 'awaiting_client') "
                          "RETURNING run_id", (time.time(), run_id))
        return bool(rows)

    def next_segment(self, run_id: str) -> int:
        """Start a fresh LangGraph thread for this run (after a crash or a cancel)."""
        self._exec("UPDATE mmagent_runs SET segment = segment + 1, status = 'running', "
                   "updated = ? WHERE run_id = ?", (time.time(), run_id))
        return self.get(run_id).segment

    def list(self, limit: int = 20) -> builtins.list[tuple[str, str, float]]:
        """(run id, status, last update) of the latest runs."""
        return [(r, s, u) for r, s, u in self._exec(
            "SELECT run_id, status, updated FROM mmagent_runs ORDER BY updated DESC LIMIT ?",
            (limit,))]

    # -- task results -------------------------------------------------------------------------

    def put_result(self, run_id: str, task_id: str, ok: bool, data: dict[str, Any]) -> None:
        self._exec("INSERT OR REPLACE INTO mmagent_task_results VALUES (?, ?, ?, ?)",
                   (run_id, task_id, int(ok), json.dumps(data)))

    def results(self, run_id: str) -> tuple[dict[str, dict], dict[str, dict]]:
        """(outputs of tasks that succeeded, errors of tasks that failed)."""
        ok: dict[str, dict] = {}
        failed: dict[str, dict] = {}
        for task_id, good, data in self._exec(
                "SELECT task_id, ok, data FROM mmagent_task_results WHERE run_id = ?", (run_id,)):
            (ok if good else failed)[task_id] = json.loads(data)
        return ok, failed

    # -- approvals ----------------------------------------------------------------------------

    def add_request(self, run_id: str, segment: int, tasks: builtins.list[str]) -> None:
        idx = self._exec("SELECT COUNT(*) FROM mmagent_approvals WHERE run_id = ? AND "
                         "segment = ?", (run_id, segment))[0][0]
        self._exec("INSERT INTO mmagent_approvals VALUES (?, ?, ?, ?)",
                   (run_id, segment, idx, json.dumps(tasks)))

    def requests(self, run_id: str, segment: int) -> builtins.list[builtins.list[str]]:
        return [json.loads(t) for (t,) in self._exec(
            "SELECT tasks FROM mmagent_approvals WHERE run_id = ? AND segment = ? ORDER BY idx",
            (run_id, segment))]

    def decide(self, run_id: str, decisions: dict[str, bool]) -> None:
        for task_id, yes in decisions.items():
            self._exec("INSERT OR REPLACE INTO mmagent_decisions VALUES (?, ?, ?)",
                       (run_id, task_id, int(yes)))

    def decisions(self, run_id: str) -> dict[str, bool]:
        return {t: bool(a) for t, a in self._exec(
            "SELECT task_id, approved FROM mmagent_decisions WHERE run_id = ?", (run_id,))}

    # -- calls of the client's functions --------------------------------------------------------

    def open_call(self, run_id: str, task_id: str, name: str,
                  arguments: dict[str, Any]) -> ClientCall:
        """The call task ``task_id`` of ``run_id`` makes of the client's function ``name``:
        the one recorded before (answered or not, so a resumed task asks no second time), else
        a new one with a fresh call id."""
        rows = self._exec(f"SELECT {_CALL_COLUMNS} FROM mmagent_client_calls WHERE run_id = ? "
                          "AND task_id = ? AND name = ?", (run_id, task_id, name))
        if rows:
            return _call(rows[0])
        call = ClientCall("call_" + uuid.uuid4().hex[:24], run_id, task_id, name, arguments)
        self._exec(f"INSERT INTO mmagent_client_calls ({_CALL_COLUMNS}, created) VALUES "
                   "(?, ?, ?, ?, ?, NULL, 0, ?)", (call.call_id, run_id, task_id, name,
                                                   json.dumps(arguments), time.time()))
        return call

    def client_call(self, call_id: str) -> ClientCall:
        """The recorded call ``call_id``; :class:`UnknownCallError` if there is none."""
        rows = self._exec(f"SELECT {_CALL_COLUMNS} FROM mmagent_client_calls WHERE call_id = ?",
                          (call_id,))
        if not rows:
            raise UnknownCallError(f"got an output for function call {call_id[:64]!r}, which no "
                                   "recorded run made; expected the id of a call from the last "
                                   "answer", call_id=call_id[:64])
        return _call(rows[0])

    def answer_call(self, call_id: str, output: str) -> ClientCall:
        """Record the client's output of ``call_id``, once: :class:`CallAnsweredError` if it
        was answered before (also by another process at the same moment),
        :class:`UnknownCallError` if no run made it."""
        call = self.client_call(call_id)
        taken = self._exec("UPDATE mmagent_client_calls SET output = ?, answered = 1, "
                           "answered_at = ? WHERE call_id = ? AND answered = 0 RETURNING call_id",
                           (output, time.time(), call_id))
        if not taken:
            raise CallAnsweredError(f"got a second output for function call {call_id[:64]!r} "
                                    f"of run {call.run_id}, which was answered already; expected "
                                    "one answer per call", call_id=call_id[:64],
                                    run_id=call.run_id)
        call.output, call.answered = output, True
        return call

    def pending_calls(self, run_id: str) -> builtins.list[ClientCall]:
        """The calls of ``run_id`` the client has not answered yet, oldest first."""
        return [_call(r) for r in self._exec(
            f"SELECT {_CALL_COLUMNS} FROM mmagent_client_calls WHERE run_id = ? AND answered = 0 "
            "ORDER BY created, call_id", (run_id,))]


def _call(row: tuple) -> ClientCall:
    call_id, run_id, task_id, name, arguments, output, answered = row
    return ClientCall(call_id, run_id, task_id, name, json.loads(arguments), output,
                      bool(answered))
