"""Approval over MCP, through the official ``mcp`` SDK's client: a client that declares
elicitation is asked "Approve <tool> for <step>?" within the call (2026-07-28: an
``input_required`` result the client answers by retrying, over Streamable HTTP at ``/mcp``;
earlier versions: an ``elicitation/create`` request, in-process), and the run finishes (or is
cancelled, on decline) before the call returns; a client without elicitation gets a result
that names the run, and the ``approve`` tool finishes it."""

import asyncio

import mcp_types as types
import pytest
from mcp import Client

from mmagent import Agent, Config
from mmagent import Client as RunsClient
from mmagent.serving.mcp.service import McpBridge, mcp_server
from mmagent.serving.server import ServerThread, build_app
from tests.serving.conftest import KEY_A, KEY_B, png_data_url
from tests.serving.helpers import PlanByInputs, readme_example, serving_registry
from tests.serving.test_mcp_server import _transport

ASK = {"prompt": "Describe it and say it aloud", "images": [png_data_url(30, 20)]}


def _agent(tmp_path) -> Agent:
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "executor": {"cache": False, "approval": {"tools": ["fake_speak"]}},
                            "serving": {"api_keys": [KEY_A, KEY_B]}})
    return Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())


@pytest.fixture
def approving(tmp_path):
    with ServerThread(build_app(agent=_agent(tmp_path))) as srv:
        yield srv
        srv.server.config.app.state.runs.join(timeout=10)


class Answers:
    """An elicitation callback that answers every question with ``action`` (and records it)."""

    def __init__(self, action: str, content: dict | None = None) -> None:
        self.action, self.content, self.asked = action, content, []

    async def __call__(self, _ctx, params) -> types.ElicitResult:
        self.asked.append(params.message)
        return types.ElicitResult(action=self.action, content=self.content)


def _call(server, fn, key=KEY_A, **client):
    import httpx2

    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                  timeout=httpx2.Timeout(60))
        async with http, Client(_transport(server.base_url + "/mcp", http), **client) as c:
            return await fn(c)

    return asyncio.run(main())


def _run_of(server, run_id, key=KEY_A):
    with RunsClient(server.base_url, key) as c:
        return c.runs.get(run_id)


def test_an_accepted_elicitation_runs_the_step_within_the_call(approving):
    answers = Answers("accept", {"approve": True})

    async def fn(c):
        return (await c.call_tool("run", ASK),
                await c.call_tool("fake_speak", {"text": "may I?"}))

    run, tool = _call(approving, fn, elicitation_callback=answers)
    assert answers.asked[0].startswith("Approve fake_speak for t2?")
    assert answers.asked[1].startswith("Approve fake_speak for t1?")
    assert not run.is_error, run.content
    out = run.structured_content
    assert out["outputs"]["t1"]["text"] == "a 30x20 picture"  # the step before the pause too
    assert out["outputs"]["t2"]["audio"]["kind"] == "audio"
    assert any(c.type == "audio" for c in run.content)
    assert not tool.is_error and any(c.type == "audio" for c in tool.content)
    assert tool.structured_content["sample_rate"] == 16000  # the tool's own output shape


@pytest.mark.parametrize("answer", [Answers("decline"), Answers("cancel"),
                                    Answers("accept", {"approve": False})])
def test_a_declined_elicitation_cancels_the_run(approving, answer):
    async def fn(c):
        return await c.call_tool("run", ASK)

    result = _call(approving, fn, elicitation_callback=answer)
    assert result.is_error and "cancelled" in result.content[0].text
    assert not any(c.type == "audio" for c in result.content)
    run_id = result.content[0].text.split("run ", 1)[1].split()[0]
    run = _run_of(approving, run_id)
    assert run.status == "cancelled" and "t2" not in run.outputs


def test_without_elicitation_the_result_names_the_run_and_approve_finishes_it(approving):
    async def ask(c):
        tools = {t.name for t in (await c.list_tools()).tools}
        return tools, await c.call_tool("run", ASK)

    tools, paused = _call(approving, ask)
    assert "approve" in tools
    out = paused.structured_content
    assert out["status"] == "awaiting_approval" and out["pending_approval"][0]["task_id"] == "t2"
    run_id = out["run_id"]
    assert f'"run_id": "{run_id}"' in paused.content[0].text and "'approve'" in \
        paused.content[0].text

    async def steal(c):
        return await c.call_tool("approve", {"run_id": run_id, "approve": True})

    stolen = _call(approving, steal, key=KEY_B)  # another key's run reads as absent
    assert stolen.is_error and "run.unknown" in stolen.content[0].text
    assert _run_of(approving, run_id).status == "awaiting_approval"

    async def approve(c):
        return (await c.call_tool("approve", {"run_id": run_id, "approve": True}),
                await c.call_tool("approve", {"run_id": run_id, "approve": True}))

    done, again = _call(approving, approve)
    assert not done.is_error, done.content
    assert done.structured_content["outputs"]["t2"]["audio"]["kind"] == "audio"
    assert done.structured_content["outputs"]["t1"]["text"] == "a 30x20 picture"
    assert again.structured_content["outputs"] == done.structured_content["outputs"]
    with RunsClient(approving.base_url, KEY_A) as c:
        assert c.runs.get(run_id).status == "completed"
        started = [e.task_id for _, e in c.runs.events(run_id) if e.type == "task_started"]
        assert started == ["t2"]  # resumed once: the second approve ran nothing


def test_a_handshake_era_client_over_stateless_http_gets_the_run_to_approve(approving):
    """Before 2026-07-28 the question needs a request to the client, which ``/mcp``'s JSON
    responses cannot carry: the result names the run instead, and nothing hangs."""
    answers = Answers("accept")

    async def fn(c):
        return c.protocol_version, await c.call_tool("run", ASK)

    version, paused = _call(approving, fn, mode="legacy", elicitation_callback=answers)
    assert version == "2025-11-25" and not answers.asked
    assert paused.structured_content["status"] == "awaiting_approval"
    assert _run_of(approving, paused.structured_content["run_id"]).status == "awaiting_approval"


def test_approve_false_cancels_a_paused_tool_call(approving):
    async def fn(c):
        paused = await c.call_tool("fake_speak", {"text": "may I?"})
        run_id = paused.content[0].text.split("(run ", 1)[1].split(")")[0]
        return run_id, await c.call_tool("approve", {"run_id": run_id, "approve": False})

    run_id, rejected = _call(approving, fn)
    assert rejected.is_error and "cancelled" in rejected.content[0].text
    assert _run_of(approving, run_id).status == "cancelled"


def test_an_elicitation_request_on_a_handshake_era_session(tmp_path):
    """Before 2026-07-28 the server asks by an ``elicitation/create`` request in the call."""
    app = build_app(agent=_agent(tmp_path))
    bridge = McpBridge(app.state.agent)
    accept, decline = Answers("accept"), Answers("decline")

    async def main():
        async with Client(mcp_server(bridge), mode="legacy",
                          elicitation_callback=accept) as c:
            done = await c.call_tool("run", ASK)
        async with Client(mcp_server(bridge), mode="legacy",
                          elicitation_callback=decline) as c:
            stopped = await c.call_tool("run", ASK)
        async with Client(mcp_server(bridge), mode="legacy") as c:
            unasked = await c.call_tool("run", ASK)
        return done, stopped, unasked

    done, stopped, unasked = asyncio.run(main())
    app.state.runs.join(timeout=10)
    assert accept.asked and decline.asked
    assert not done.is_error and done.structured_content["outputs"]["t2"]["audio"]
    assert stopped.is_error and "cancelled" in stopped.content[0].text
    assert unasked.structured_content["status"] == "awaiting_approval"


def test_readme_mcp_approval_example(tmp_path):
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "executor": {"cache": False, "approval": {"tools": ["fake_sleep"]}},
                            "serving": {"api_keys": [KEY_A]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    with ServerThread(build_app(agent=agent)) as srv:
        out = readme_example("tests/serving/test_mcp_approval.py::"
                             "test_readme_mcp_approval_example", srv, KEY_A).splitlines()
        srv.server.config.app.state.runs.join(timeout=10)
    assert out[0].startswith("Approve fake_sleep for t1?")
    assert "'t1': {'text': 'fox'}" in out[1]
