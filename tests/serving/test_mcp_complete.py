"""The MCP server's tool metadata, progress and cancellation through the official ``mcp``
SDK's client: ``outputSchema`` (which the SDK checks every result against), titles and
annotations on every tool over Streamable HTTP; progress notifications from ``task_progress``
events and a client's cancel, in-process (Streamable HTTP here answers in one JSON body)."""

import asyncio
import json
import threading
import time

import anyio
import jsonschema
from mcp import Client

from mmagent import Agent, Config
from mmagent.planner import Completion
from mmagent.serving import AgentService
from mmagent.serving.mcp.service import McpBridge, mcp_server
from tests.fakes import FakeSleep
from tests.serving.conftest import png_data_url
from tests.serving.helpers import PlanByInputs, serving_registry
from tests.serving.test_mcp_server import call

STARTED: list[str] = []


class RecordingSleep(FakeSleep):
    def run(self, inputs, ctx):
        STARTED.extend(i.label for i in inputs)
        return super().run(inputs, ctx)


class PlanSlowPair(PlanByInputs):
    """``slow`` plans a 2 s sleep and a sleep after it; anything else as PlanByInputs."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        if json_schema is not None and "tasks" in json_schema.get("properties", {}) and \
                "slow" in messages[-1]["content"]:
            return Completion(json.dumps({"tasks": [
                {"id": "t1", "tool": "fake_sleep", "args": {"label": "first", "seconds": 2}},
                {"id": "t2", "tool": "fake_sleep",
                 "args": {"label": "second", "after": "$t1.text", "seconds": 0}}]}), 1, 1)
        return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)


def test_every_tool_has_title_annotations_and_an_output_schema_its_results_meet(server):
    async def fn(client):
        tools = (await client.list_tools()).tools
        # the SDK's client validates structured_content against outputSchema
        caption = await client.call_tool("fake_caption", {"image": png_data_url(40, 30)})
        spoken = await client.call_tool("fake_speak", {"text": "hello there"})
        asked = await client.call_tool("run", {"prompt": "Please echo mango"})
        flow = await client.call_tool("workflow_describe_fake", {"image": png_data_url()})
        return tools, [caption, spoken, asked, flow]

    tools, results = call(server, fn)
    for t in tools:
        assert t.title and t.output_schema and t.output_schema["type"] == "object", t.name
        jsonschema.validators.validator_for(t.output_schema).check_schema(t.output_schema)
        a = t.annotations
        assert a.destructive_hint is False and a.open_world_hint is False, t.name
        assert a.read_only_hint is not None and a.idempotent_hint is not None, t.name
    by = {t.name: t for t in tools}
    assert by["fake_caption"].annotations.read_only_hint is True  # text out: stores nothing
    assert by["fake_speak"].annotations.read_only_hint is False  # audio out: stored
    assert by["run"].title == "Ask the mmagent agent"
    assert "artifacts" in by["fake_speak"].output_schema["properties"]
    for r in results:
        assert not r.is_error and r.structured_content is not None
    assert results[1].structured_content["artifacts"][0]["kind"] == "audio"
    assert "mango" in results[2].structured_content["answer"]


def _bridge(tmp_path) -> McpBridge:
    reg = serving_registry()
    reg.register(RecordingSleep)
    agent = Agent(Config.from_dict({"cache_dir": str(tmp_path / "cache")}), registry=reg,
                  planner_backend=PlanSlowPair())
    return McpBridge(AgentService(agent))


def test_progress_notifications_from_task_progress(tmp_path):
    bridge = _bridge(tmp_path)
    seen = []

    async def main():
        async with Client(mcp_server(bridge)) as client:
            async def on_progress(progress, total, message):
                seen.append((progress, total, message))

            tool = await client.call_tool("fake_sleep", {"label": "x", "seconds": 0.2},
                                          progress_callback=on_progress)
            run = await client.call_tool("run", {"prompt": "Please echo kiwi"},
                                         progress_callback=on_progress)
            return tool, run

    tool, run = asyncio.run(main())
    assert not tool.is_error and not run.is_error
    values = [p for p, _t, _m in seen]
    assert len(seen) >= 8  # 4 steps and the finish, for each call
    one_call = values[:values.index(1.0) + 1]
    assert one_call == sorted(one_call) and one_call[-1] == 1.0
    assert any(m.startswith("t1: step 2/4") for _p, _t, m in seen)
    assert seen[-1][1] == 1.0 and "done" in seen[-1][2]


def test_a_cancelled_call_starts_no_further_task(tmp_path):
    bridge = _bridge(tmp_path)
    STARTED.clear()
    done = threading.Event()
    original = bridge.call

    def call_then_mark(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            done.set()

    bridge.call = call_then_mark

    async def main():
        async with Client(mcp_server(bridge)) as client:
            with anyio.move_on_after(0.8):  # mid-way through the first 2 s task
                await client.call_tool("run", {"prompt": "Please be slow"})
            # the server side winds down on its own; give it the first task's time
            await anyio.to_thread.run_sync(done.wait, 10)

    t0 = time.monotonic()
    asyncio.run(main())
    assert done.is_set() and time.monotonic() - t0 < 10
    assert STARTED == ["first"]  # t2 never started
