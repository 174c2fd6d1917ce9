"""PostgreSQL versions of the SQLite stores: the same classes and methods, one shared database.

:class:`PostgresRunStore` keeps the run records of :class:`~mmagent.runs.RunStore` and hands
LangGraph ``PostgresSaver`` (``langgraph-checkpoint-postgres``) as its checkpointer;
:class:`PostgresResultCache` is :class:`~mmagent.execution.ResultCache`. Both talk to Postgres
through psycopg 3 pools. Every server replica and Ray node pointing at the same DSN sees the
same runs, checkpoints and cached results, so a run started on one can be resumed on another.

>>> runs = PostgresRunStore(PostgresDatabase("postgresql://u@127.0.0.1/mmagent"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from mmagent.execution._result_cache import ResultCache
from mmagent.runs._journal import _SCHEMA as _RUN_SCHEMA
from mmagent.runs._journal import RunStore
from mmagent.stores._sql import PostgresDatabase

__all__ = ["PostgresRunStore", "PostgresResultCache"]


class PostgresRunStore(RunStore):
    """:class:`RunStore` on PostgreSQL; ``saver`` is LangGraph's ``PostgresSaver``."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.path = None
        self.pg = db
        self._lock = threading.Lock()
        # REAL is 4 bytes in Postgres (SQLite's is 8): timestamps need DOUBLE PRECISION
        db.create_schema([s for s in _RUN_SCHEMA.replace(" REAL", " DOUBLE PRECISION").split(";")
                          if s.strip()])
        self._saver = None
        self._saver_lock = threading.Lock()

    @property
    def saver(self):
        with self._saver_lock:
            if self._saver is None:
                from langgraph.checkpoint.postgres import PostgresSaver
                from psycopg.rows import dict_row
                from psycopg_pool import ConnectionPool

                # the settings PostgresSaver documents for a pool of its own
                pool = ConnectionPool(self.pg.dsn, min_size=1, max_size=8, open=True, kwargs={
                    "autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
                saver = PostgresSaver(pool)
                with self.pg.schema_lock():  # its migrations race like CREATE IF NOT EXISTS
                    saver.setup()
                self._saver = saver
            return self._saver

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self.pg.execute(sql, args)

    def close(self) -> None:
        """Close the checkpointer's connections (the database's pool is shared)."""
        if self._saver is not None:
            self._saver.conn.close()

    def put_result(self, run_id: str, task_id: str, ok: bool, data: dict[str, Any]) -> None:
        self.pg.execute("INSERT INTO mmagent_task_results VALUES (?, ?, ?, ?) ON CONFLICT "
                        "(run_id, task_id) DO UPDATE SET ok = excluded.ok, data = excluded.data",
                        (run_id, task_id, int(ok), json.dumps(data)))

    def decide(self, run_id: str, decisions: dict[str, bool]) -> None:
        for task_id, yes in decisions.items():
            self.pg.execute("INSERT INTO mmagent_decisions VALUES (?, ?, ?) ON CONFLICT "
                            "(run_id, task_id) DO UPDATE SET approved = excluded.approved",
                            (run_id, task_id, int(yes)))

    def __repr__(self) -> str:
        return f"PostgresRunStore({self.pg!r})"


class PostgresResultCache(ResultCache):
    """:class:`ResultCache` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.path = None
        self.pg = db
        db.create_schema(["CREATE TABLE IF NOT EXISTS mmagent_results (key TEXT PRIMARY KEY, "
                          "tool TEXT, output TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)"])

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self.pg.execute("SELECT output FROM mmagent_results WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put(self, key: str, output: dict[str, Any], tool: str = "") -> None:
        self.pg.execute("INSERT INTO mmagent_results VALUES (?, ?, ?, ?) ON CONFLICT (key) DO "
                        "UPDATE SET tool = excluded.tool, output = excluded.output, "
                        "created = excluded.created", (key, tool, json.dumps(output), time.time()))

    def clear(self) -> None:
        self.pg.execute("DELETE FROM mmagent_results")
