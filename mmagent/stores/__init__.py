"""Stores behind small interfaces: where runs, checkpoints, the result cache, artifact ownership
and run events live (SQLite or PostgreSQL), chosen by the ``stores:`` section of the config.

- :class:`~mmagent.stores.sql.Database`: one SQL connection (SQLite file or Postgres DSN) with
  ``?`` placeholders on both;
- :class:`~mmagent.stores.queue.RunQueue`: the runs API's records and their persisted events.
"""

from pathlib import Path

from .queue import QueuedRun, RunQueue
from .sql import Database, open_database

__all__ = ["Database", "open_database", "RunQueue", "QueuedRun", "state_database"]


def state_database(config) -> Database:
    """The state database of a :class:`~mmagent.Config`: the executor's SQLite file (default
    ``<cache_dir>/runs.sqlite``)."""
    path = config.executor.checkpoint_db or Path(config.cache_dir) / "runs.sqlite"
    return open_database(path)
