"""The result cache: an identical tool call returns the stored output instead of recomputing.

The key is content-addressed: sha256 of the tool's name, version and checkpoint and of its
arguments, where input artifacts appear as their references (whose ``id`` is the sha256 of the
bytes). Outputs are stored as JSON (artifacts as references); an entry whose artifacts have left
the store is a miss. Only tools with ``deterministic = True`` are cached.

>>> cache = ResultCache(None)
>>> key = cache.key("shout", "1", None, {"text": "hi"})
>>> cache.get(key) is None
True
>>> cache.put(key, {"text": "HI"}); cache.get(key)
{'text': 'HI'}
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from mmagent.stores._sql import connect_sqlite

__all__ = ["ResultCache"]


class ResultCache:
    """Tool outputs by content-addressed key, in a SQLite file (``None``: in memory)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self._lock = threading.Lock()
        self._db = connect_sqlite(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, tool TEXT, "
                         "output TEXT NOT NULL, created REAL NOT NULL)")

    @staticmethod
    def key(tool: str, version: str, checkpoint: str | None, args: dict[str, Any]) -> str:
        blob = json.dumps({"tool": tool, "version": version, "checkpoint": checkpoint,
                           "args": args}, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT output FROM results WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, output: dict[str, Any], tool: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
                             (key, tool, json.dumps(output), time.time()))

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM results")
