"""Who may read which artifact, in the state database (SQLite or Postgres), so that every
server instance on that database agrees on it.

>>> from mmagent.stores._sql import open_database
>>> owners = DatabaseOwners(open_database(None))
>>> owners.add("key-digest-a", "f" * 64); owners.owns("key-digest-a", "f" * 64)
True
>>> owners.owns("key-digest-b", "f" * 64)
False
"""

from __future__ import annotations

import json
from pathlib import Path

from mmagent.stores._sql import Database

__all__ = ["DatabaseOwners"]


class DatabaseOwners:
    """Artifact id -> owners (sha256 digests of API keys); the same API as ``Owners``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.create_schema(["CREATE TABLE IF NOT EXISTS mmagent_owners (artifact TEXT NOT NULL, "
                          "owner TEXT NOT NULL, PRIMARY KEY (artifact, owner))"])

    def add(self, owner: str, artifact_id: str) -> None:
        self.db.execute("INSERT INTO mmagent_owners VALUES (?, ?) ON CONFLICT DO NOTHING",
                        (artifact_id, owner))

    def import_jsonl(self, path: Path) -> None:
        """Take over the ``owners.jsonl`` of earlier versions (then renamed ``.imported``)."""
        if not path.is_file():
            return
        with self.db.transaction() as cur:
            for line in path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    cur.execute("INSERT INTO mmagent_owners VALUES (?, ?) ON CONFLICT DO NOTHING",
                                (rec["artifact"], rec["owner"]))
        path.replace(path.with_suffix(".jsonl.imported"))

    def owns(self, owner: str, artifact_id: str) -> bool:
        return bool(self.db.execute("SELECT 1 FROM mmagent_owners WHERE artifact = ? AND "
                                    "owner = ?", (artifact_id, owner)))
