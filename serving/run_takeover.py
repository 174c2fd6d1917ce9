"""Runs-API runs whose ingress replica died are taken over by another replica.

Each replica holds a lease on the runs it is running (table ``mmagent_run_leases`` in the
state database, beside the runs API's own tables) and renews it every third of
``serving.ray.run_lease_s``. A run that is ``running`` while nobody holds a live lease on it
(its replica was killed, or its node died) is queued again, and whichever replica takes it
runs it on: an agent run resumes from the executor's checkpoints, so tasks that finished are
not run again (its events then show ``run_started`` with ``resumed: true``); a workflow run,
which records no executor run id in the runs API, starts over.

A replica stalled for longer than the lease could see its run taken over while it still
runs: keep ``run_lease_s`` well above the longest pause a replica may have.

>>> takeover = RunTakeover(app.state.runs, state_database(config), "replica-1")  # doctest: +SKIP
>>> takeover.start()                                                            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

__all__ = ["RunTakeover"]

logger = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS mmagent_run_leases (
    run_id TEXT PRIMARY KEY, holder TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL)"""


class RunTakeover:
    """Renews this replica's leases and takes over runs whose lease ran out."""

    def __init__(self, runs: Any, db: Any, holder: str, lease_s: float = 10.0) -> None:
        self.runs = runs  # a serving.runs.RunService
        self.db = db
        self.holder = holder
        self.lease_s = lease_s
        self._stop = threading.Event()
        self.db.execute(_SCHEMA)

    def start(self) -> RunTakeover:
        threading.Thread(target=self._loop, name="mmagent-run-takeover", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def renew(self) -> None:
        """Extend the lease of every run this replica is running."""
        expires = time.time() + self.lease_s
        for run_id in list(self.runs._workers):  # RunService keeps its live workers there
            self.db.execute("INSERT INTO mmagent_run_leases (run_id, holder, expires) VALUES "
                            "(?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET holder = "
                            "excluded.holder, expires = excluded.expires",
                            (run_id, self.holder, expires))

    def take_over(self) -> list[str]:
        """Queue again the runs left running without a live lease; start what fits."""
        now = time.time()
        rows = self.db.execute(
            "SELECT r.id FROM mmagent_api_runs r LEFT JOIN mmagent_run_leases l ON "
            "l.run_id = r.id WHERE r.status = 'running' AND ((l.expires IS NULL AND "
            "r.updated < ?) OR l.expires < ?)", (now - self.lease_s, now))
        taken = [run_id for (run_id,) in rows
                 if run_id not in self.runs._workers
                 and self.runs.queue.transition(run_id, ("running",), "queued")]
        for run_id in taken:
            logger.warning("run %s was left running by a replica that is gone; queued again "
                           "to resume from its checkpoints", run_id)
        if taken:
            self.runs.dispatch()
        return taken

    def _loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.renew()
                self.take_over()
            except Exception:  # the database is away for a moment: try again next round
                logger.warning("renewing run leases failed", exc_info=True)
