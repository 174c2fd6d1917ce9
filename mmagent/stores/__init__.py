"""Stores behind small interfaces, chosen by the ``stores:`` section of ``mmagent.yaml``.

- **state** (runs, LangGraph checkpoints, the result cache, artifact ownership, runs-API records
  and their events): ``sqlite`` files under ``cache_dir`` (default) or one ``postgres`` database
  that every replica and node shares;
- **artifacts**: the ``local`` directory ``store_dir`` (default) or an ``s3`` bucket, with
  ``store_dir`` as the local cache tools read materialised files from.

The factories below build each store from a :class:`~mmagent.Config`; every backend passes the
same conformance suite (``tests/stores/test_conformance.py``).

>>> from mmagent import Config
>>> cfg = Config.from_dict({"stores": {"state": {"backend": "postgres",
...                                              "dsn": "postgresql://mmagent@db:5432/mmagent"}}})
>>> cfg.stores.state.postgres_dsn()        # make_run_store(cfg) would connect to it
'postgresql://mmagent@db:5432/mmagent'
"""

from __future__ import annotations

from pathlib import Path

from mmagent.stores._sql import Database, PostgresDatabase, SQLiteDatabase, open_database

__all__ = ["Database", "open_database", "state_database", "make_run_store",
           "make_result_cache", "make_owners", "make_artifact_store"]

_POSTGRES: dict[str, PostgresDatabase] = {}  # one pool per DSN per process


def state_database(config) -> Database:
    """The state database: Postgres (``stores.state``), else the executor's SQLite file
    (``executor.checkpoint_db``, default ``<cache_dir>/runs.sqlite``)."""
    if config.stores.state.backend == "postgres":
        return _postgres_pool(config)
    return SQLiteDatabase(config.executor.checkpoint_db or Path(config.cache_dir) / "runs.sqlite")


def make_run_store(config):
    """Durable run records and LangGraph checkpoints (:class:`~mmagent.runs.RunStore`)."""
    if config.stores.state.backend == "postgres":
        from mmagent.stores._postgres import PostgresRunStore

        return PostgresRunStore(_postgres_pool(config))
    from mmagent.runs._journal import RunStore

    return RunStore(config.executor.checkpoint_db or Path(config.cache_dir) / "runs.sqlite")


def make_result_cache(config):
    """The result cache (:class:`~mmagent.execution.ResultCache`)."""
    if config.stores.state.backend == "postgres":
        from mmagent.stores._postgres import PostgresResultCache

        return PostgresResultCache(_postgres_pool(config))
    from mmagent.execution._result_cache import ResultCache

    return ResultCache(config.executor.cache_db or Path(config.cache_dir) / "results.sqlite")


def make_owners(config, store_root: Path | None = None):
    """Who may read which artifact: a table in the state database, so every server instance
    on it agrees. An ``owners.jsonl`` left by earlier versions in ``store_root`` is imported."""
    from mmagent.stores._owners import DatabaseOwners

    owners = DatabaseOwners(state_database(config))
    if store_root is not None:
        owners.import_jsonl(Path(store_root) / "owners.jsonl")
    return owners


def make_artifact_store(config):
    """The :class:`~mmagent.ArtifactStore`: ``store_dir`` alone, or an S3 bucket
    with ``store_dir`` as the local cache."""
    from mmagent.artifacts._store import ArtifactStore

    remote = None
    if config.stores.artifacts.backend == "s3":
        from mmagent.stores._s3 import S3Objects

        remote = S3Objects.from_config(config.stores.artifacts)
    return ArtifactStore(config.artifact_dir, config.limits, remote=remote)


def _postgres_pool(config) -> PostgresDatabase:
    dsn = config.stores.state.postgres_dsn()
    if dsn not in _POSTGRES:
        _POSTGRES[dsn] = PostgresDatabase(dsn)
    return _POSTGRES[dsn]
