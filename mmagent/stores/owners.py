"""Who may read which artifact, in the state database (the Postgres backend's version of the
``owners.jsonl`` file that :class:`mmagent.serving.auth.Owners` keeps beside a local store).

>>> from mmagent.stores.sql import open_database
>>> owners = DatabaseOwners(open_database(None))
>>> owners.add("key-digest-a", "f" * 64); owners.owns("key-digest-a", "f" * 64)
True
>>> owners.owns("key-digest-b", "f" * 64)
False
"""

from __future__ import annotations

from .sql import Database

__all__ = ["DatabaseOwners"]


class DatabaseOwners:
    """Artifact id -> owners (sha256 digests of API keys); the same API as ``Owners``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.execute("CREATE TABLE IF NOT EXISTS mmagent_owners (artifact TEXT NOT NULL, "
                   "owner TEXT NOT NULL, PRIMARY KEY (artifact, owner))")

    def add(self, owner: str, artifact_id: str) -> None:
        self.db.execute("INSERT INTO mmagent_owners VALUES (?, ?) ON CONFLICT DO NOTHING",
                        (artifact_id, owner))

    def owns(self, owner: str, artifact_id: str) -> bool:
        return bool(self.db.execute("SELECT 1 FROM mmagent_owners WHERE artifact = ? AND "
                                    "owner = ?", (artifact_id, owner)))
