"""Stored responses (``store: true``, the default): ``GET /v1/responses/{id}`` reads them back,
for the key that created them only, from the state database, so every instance on it agrees.

>>> from mmagent.stores import open_database
>>> stored = ResponseStore(open_database(None))
>>> stored.put("resp_1", "owner-a", {"id": "resp_1"}); stored.get("resp_1", "owner-a")
{'id': 'resp_1'}
"""

from __future__ import annotations

import json
import time
from typing import Any

from mmagent.errors import InputNotFoundError
from mmagent.stores import Database

__all__ = ["ResponseStore", "UnknownResponseError"]


class UnknownResponseError(InputNotFoundError):
    code = "input.unknown_response"


class ResponseStore:
    """Response id -> (owner, the response object as JSON)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.create_schema(["CREATE TABLE IF NOT EXISTS mmagent_responses (id TEXT PRIMARY KEY, "
                          "owner TEXT NOT NULL, created REAL NOT NULL, body TEXT NOT NULL)"])

    def put(self, rid: str, owner: str, body: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO mmagent_responses VALUES (?, ?, ?, ?) ON CONFLICT (id) DO "
                        "UPDATE SET body = excluded.body", (rid, owner, time.time(),
                                                             json.dumps(body)))

    def get(self, rid: str, owner: str, param: str = "response_id") -> dict[str, Any]:
        rows = self.db.execute("SELECT body FROM mmagent_responses WHERE id = ? AND owner = ?",
                               (rid, owner))
        if not rows:  # another key's response reads as absent, never as forbidden
            raise UnknownResponseError(f"got response id {rid[:80]!r}, which this key has not "
                                       "stored; expected the id of one of its responses",
                                       param=param)
        return json.loads(rows[0][0])
