"""Test-wide settings: nothing waits on the network, every cache lives in a per-run folder."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="mmagent-tests-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# Two cores: torch's spinning OpenMP threads slow each other down badly under contention.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(_RUN_DIR / "inductor"))
# Tiny models are built once per test run into this cache, then reloaded with from_pretrained.
os.environ["MMAGENT_CACHE"] = str(_RUN_DIR / "cache")


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return Path(os.environ["MMAGENT_CACHE"])


@pytest.fixture
def store(tmp_path):
    from mmagent.artifacts import ArtifactStore

    return ArtifactStore(tmp_path / "store")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_RUN_DIR, ignore_errors=True)
