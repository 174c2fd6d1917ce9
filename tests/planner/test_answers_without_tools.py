"""Requests that need no tool and requests no tool can serve, through every kind of surface:
the SDK, the CLI, chat completions and the runs API answer the first in words with an empty
plan and refuse the second with ``plan.unsupported``, naming the closest tools."""

from __future__ import annotations

import httpx
import pytest

from mmagent import Agent, Client, Config
from mmagent.errors import UnsupportedRequestError
from mmagent.serving.server import ServerThread, build_app

GREETING = "Hi there!"
FLIGHT = "Please book me a flight to Rome."
KEY = "sk-test-answers"


def _config(root) -> Config:
    return Config.from_dict({"cache_dir": str(root / "cache"), "router": {"mode": "plan"},
                             "serving": {"api_keys": [KEY]}}, profile="offline")


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    return Agent(_config(tmp_path_factory.mktemp("answers")))


@pytest.fixture(scope="module")
def server(agent):
    with ServerThread(build_app(agent=agent)) as srv:
        yield srv
        srv.server.config.app.state.runs.join(timeout=10)


def test_sdk_answers_a_greeting_without_running_a_tool(agent):
    assert agent.plan(GREETING).tasks == []
    result = agent.run(GREETING)
    assert result.plan.tasks == [] and result.answer and not result.artifacts


def test_sdk_refuses_what_no_tool_can_serve(agent):
    with pytest.raises(UnsupportedRequestError) as e:
        agent.plan(FLIGHT)
    assert e.value.code == "plan.unsupported" and e.value.details["closest"]


def test_cli_answers_and_refuses(tmp_path, monkeypatch, capsys):
    from tests.cli.test_cli import cli

    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(f"cache_dir: {tmp_path / 'cache'}\nrouter: {{mode: plan}}\n")
    code, out, _ = cli(monkeypatch, capsys, "run", GREETING, "-c", str(cfg))
    assert code == 0 and "Plan" not in out and out.strip()
    code, _, err = cli(monkeypatch, capsys, "run", FLIGHT, "-c", str(cfg))
    assert code != 0 and "error[plan.unsupported]" in err and "closest tools" in err


def test_chat_completions_answer_and_refuse(server):
    h = {"Authorization": f"Bearer {KEY}"}
    url = f"{server.base_url}/v1/chat/completions"
    ok = httpx.post(url, headers=h, timeout=60, json={
        "model": "mmagent", "messages": [{"role": "user", "content": GREETING}]})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]
    no = httpx.post(url, headers=h, timeout=60, json={
        "model": "mmagent", "messages": [{"role": "user", "content": FLIGHT}]})
    assert no.status_code == 422 and no.json()["error"]["code"] == "plan.unsupported"


def test_runs_api_answers_and_refuses(server, tmp_path):
    with Client(server.base_url, KEY, download_dir=tmp_path) as c:
        info = c.runs.wait(c.runs.create(GREETING).id, timeout=60)
        assert info.status == "completed" and info.answer and info.plan["tasks"] == []
        failed = c.runs.wait(c.runs.create(FLIGHT).id, timeout=60)
    assert failed.status == "failed" and "plan.unsupported" in str(failed.model_dump())
