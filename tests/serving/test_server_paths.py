"""Remote callers name no server path (a folder to search) unless the operator allows its root;
request headers are bounded."""

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from mmagent import Agent, Config
from mmagent.serving.server import ServerThread, build_app
from mmagent.toolkit import Tool
from tests.serving.helpers import PlanByInputs, serving_registry

KEY = "sk-test-paths"
WORKFLOW = """\
version: 1
description: Read the files of a folder.
inputs:
  folder: {type: text, description: a folder on the server}
nodes:
  read: {tool: fake_folder, args: {folder: $input.folder}}
outputs:
  text: $read.text
"""


class FakeFolder(Tool):
    name = "fake_folder"
    description = "Returns the text of every file in a server folder."
    category = "utility"

    class Input(BaseModel):
        model_config = ConfigDict(extra="forbid")
        folder: str = Field(description="a server folder",
                            json_schema_extra={"server_path": True})

    class Output(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="the files' text")

    def run(self, inputs, ctx):
        from pathlib import Path

        files = [sorted(Path(i.folder).glob("*.txt")) for i in inputs]
        return [self.Output(text=" ".join(p.read_text() for p in f)) for f in files]


def _server(root, **serving) -> ServerThread:
    (root / "read_folder.yaml").write_text(WORKFLOW)
    cfg = Config.from_dict({"cache_dir": str(root / "cache"),
                            "workflows": {"paths": [str(root / "read_folder.yaml")]},
                            "serving": {"api_keys": [KEY], **serving}})
    registry = serving_registry()
    registry.register(FakeFolder)
    return ServerThread(build_app(agent=Agent(cfg, registry=registry,
                                              planner_backend=PlanByInputs())))


@pytest.fixture()
def private(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "secret.txt").write_text("the-secret-word")
    return folder


def _run(srv, folder) -> httpx.Response:
    return httpx.post(f"{srv.base_url}/v1/workflows/read_folder/runs",
                      json={"inputs": {"folder": str(folder)}},
                      headers={"Authorization": f"Bearer {KEY}"}, timeout=60)


def test_a_remote_caller_cannot_name_a_server_folder(tmp_path, private):
    with _server(tmp_path) as srv:
        r = _run(srv, private)
        assert "the-secret-word" not in r.text
        assert "got server path" in r.text and "serving.allowed_roots" in r.text
        # the runs API, the same way
        created = httpx.post(f"{srv.base_url}/v1/runs", json={
            "workflow": "read_folder", "inputs": {"folder": str(private)}},
            headers={"Authorization": f"Bearer {KEY}"}, timeout=30).json()
        for _ in range(300):
            run = httpx.get(f"{srv.base_url}/v1/runs/{created['id']}",
                            headers={"Authorization": f"Bearer {KEY}"}).json()
            if run["status"] not in ("queued", "running"):
                break
            import time

            time.sleep(0.1)
        assert "the-secret-word" not in str(run) and "serving.allowed_roots" in str(run)


def test_allowed_roots_let_a_remote_caller_name_folders_inside_them(tmp_path, private):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("outside-word")
    (private / "link").symlink_to(outside)  # a link out of the root does not escape it
    with _server(tmp_path, allowed_roots=[str(private)]) as srv:
        assert "the-secret-word" in _run(srv, private).text
        r = _run(srv, private / "link")
        assert "outside-word" not in r.text and "got server path" in r.text
        r = _run(srv, private / ".." / "outside")
        assert "outside-word" not in r.text and "got server path" in r.text


def test_a_local_caller_names_any_folder(tmp_path, private):
    registry = serving_registry()
    registry.register(FakeFolder)
    assert registry.get("fake_folder")(folder=str(private)).text == "the-secret-word"


@pytest.mark.parametrize("size", [200_000, 2_000_000])
def test_huge_headers_are_431(tmp_path, size):
    with _server(tmp_path) as srv:
        r = httpx.get(f"{srv.base_url}/healthz", headers={"X-Big": "a" * size}, timeout=30)
        assert r.status_code == 431, r.status_code
        assert r.json()["error"]["code"] == "input.headers_too_large"
        assert httpx.get(f"{srv.base_url}/healthz", timeout=30).status_code == 200
