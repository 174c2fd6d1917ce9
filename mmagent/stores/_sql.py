"""One SQL connection, SQLite or PostgreSQL, with the same small API on both.

Statements are written once with ``?`` placeholders and portable SQL (``INSERT ... ON CONFLICT``
works on SQLite >= 3.24 and Postgres); :meth:`Database.execute` turns ``?`` into psycopg's
``%s`` on Postgres. Every statement runs in autocommit; :meth:`Database.transaction` groups
several under one lock (SQLite) or one transaction (Postgres).

>>> db = open_database(None)            # SQLite in memory; a path or a postgresql:// DSN else
>>> db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
[]
>>> db.execute("INSERT INTO t VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
...            ("a", 1))
[]
>>> db.execute("SELECT v FROM t WHERE k = ?", ("a",))
[(1,)]
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Database", "SQLiteDatabase", "PostgresDatabase", "open_database", "is_postgres_dsn",
           "connect_sqlite"]


def is_postgres_dsn(target: str | Path | None) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def connect_sqlite(path: Path | None) -> sqlite3.Connection:
    """A connection to the SQLite file ``path`` (its folder made; ``None``: in memory), in
    autocommit and usable from any thread: its owner serialises statements under a lock.

    A file is switched to WAL, so that other connections (LangGraph's checkpointer, a second
    server on the same files) read while one writes; ``synchronous=NORMAL`` still survives a
    killed process (only power loss may lose the last commits). The connection waits up to
    10 s for another's lock from the start: switching a file to WAL takes one.
    """
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False,
                         isolation_level=None, timeout=10.0)
    if path is not None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    return db


class Database(Protocol):
    """What the stores need from a SQL connection."""

    dialect: str  # "sqlite" or "postgres"

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Run one statement (``?`` placeholders); the rows it returns, if any."""

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """A block whose statements (``cursor.execute(sql, args)``) commit together."""

    def create_schema(self, statements: list[str]) -> None:
        """Run ``CREATE ... IF NOT EXISTS`` statements; safe when several processes start at
        once (Postgres can fail such concurrent statements with a unique violation)."""


class SQLiteDatabase:
    """A SQLite file (``None``: in memory), shared by threads under one lock."""

    dialect = "sqlite"

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self._lock = threading.RLock()
        self._db = connect_sqlite(self.path)

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def create_schema(self, statements: list[str]) -> None:
        for statement in statements:
            self.execute(statement)

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteDatabase({str(self.path) if self.path else ':memory:'})"


class _SQLiteCursor:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._db.execute(sql, args).fetchall()


class PostgresDatabase:
    """A PostgreSQL database through a psycopg 3 connection pool (autocommit)."""

    dialect = "postgres"

    def __init__(self, dsn: str, *, max_size: int = 8) -> None:
        from psycopg_pool import ConnectionPool

        self.dsn = dsn
        self.pool = ConnectionPool(dsn, min_size=1, max_size=max_size, open=True,
                                   kwargs={"autocommit": True})

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.pool.connection() as conn:
            cur = conn.execute(_pg(sql), args)
            return cur.fetchall() if cur.description is not None else []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PostgresCursor(conn)

    def create_schema(self, statements: list[str]) -> None:
        with self.schema_lock() as conn:
            for statement in statements:
                conn.execute(_pg(statement))

    @contextlib.contextmanager
    def schema_lock(self) -> Iterator[Any]:
        """Serialise schema creation between processes (also around LangGraph's ``setup()``).

        The lock is polled with ``pg_try_advisory_lock`` rather than waited for: a session
        blocked in ``pg_advisory_lock`` is an open transaction, which LangGraph's
        ``CREATE INDEX CONCURRENTLY`` waits for in turn (a deadlock Postgres does not detect).
        """
        with self.pool.connection() as conn:
            while not ((row := conn.execute("SELECT pg_try_advisory_lock(%s)",
                                            (_SCHEMA_LOCK,)).fetchone()) and row[0]):
                time.sleep(0.05)
            try:
                yield conn
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    def close(self) -> None:
        self.pool.close()

    def __repr__(self) -> str:
        return f"PostgresDatabase({_redact(self.dsn)})"


class _PostgresCursor:
    def __init__(self, conn) -> None:
        self._conn = conn

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        cur = self._conn.execute(_pg(sql), args)
        return cur.fetchall() if cur.description is not None else []


_SCHEMA_LOCK = 0x6D6D6167  # "mmag": the advisory lock that serialises schema creation


def _pg(sql: str) -> str:
    # our statements hold no literal '?' or '%', so a plain replace is exact
    return sql.replace("%", "%%").replace("?", "%s")


def _redact(dsn: str) -> str:
    """The DSN without its password (for messages and reprs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn


def open_database(target: str | Path | None) -> SQLiteDatabase | PostgresDatabase:
    """A Postgres DSN (``postgresql://...``) or a SQLite path (``None``: in memory)."""
    if is_postgres_dsn(target):
        return PostgresDatabase(str(target))
    return SQLiteDatabase(target)
