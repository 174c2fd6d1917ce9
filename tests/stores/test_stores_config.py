"""The `stores:` config: validated with errors that name the key; an unreachable store is a
typed error, not a crash."""

import io

import pytest
from PIL import Image

from mmagent import Agent, Config
from mmagent.errors import ConfigError, StoreError
from mmagent.serving.server import free_port
from mmagent.stores import make_artifact_store, make_run_store


def test_bad_store_settings_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="stores.artifacts"):
        Config.from_dict({"stores": {"artifacts": {"backend": "s3"}}})  # no bucket
    with pytest.raises(ConfigError, match="stores.state.backend"):
        Config.from_dict({"stores": {"state": {"backend": "mysql"}}})
    with pytest.raises(ConfigError, match="stores.state.dsn"):
        Config.from_dict({"stores": {"state": {"backend": "postgres", "dsn": "db.example:5432"}}})
    with pytest.raises(ConfigError, match="stores.state.bogus"):
        Config.from_dict({"stores": {"state": {"bogus": 1}}})


def test_postgres_without_a_dsn_says_which_keys_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("MMAGENT_POSTGRES_DSN", raising=False)
    cfg = Config.from_dict({"cache_dir": str(tmp_path), "stores": {"state": {
        "backend": "postgres"}}})
    with pytest.raises(ConfigError, match=r"stores.state.dsn.*\$MMAGENT_POSTGRES_DSN"):
        make_run_store(cfg)


def test_the_default_is_sqlite_and_a_local_directory(tmp_path):
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path)}))
    assert agent.store.remote is None and agent.store.root == tmp_path / "artifacts"
    assert agent.executor.runs.path == tmp_path / "runs.sqlite"


def test_an_unreachable_bucket_is_a_store_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    cfg = Config.from_dict({"cache_dir": str(tmp_path), "stores": {"artifacts": {
        "backend": "s3", "bucket": "b", "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "region": "us-east-1"}}})
    buf = io.BytesIO()
    Image.new("RGB", (3, 3)).save(buf, format="PNG")
    with pytest.raises(StoreError, match="stores.artifacts") as e:
        make_artifact_store(cfg).put_bytes(buf.getvalue(), "image")
    assert e.value.code == "store.unavailable"
    assert not list((tmp_path / "artifacts" / "objects").rglob("*.png"))  # nothing half-written
