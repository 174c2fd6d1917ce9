"""The MCP server through the official ``mcp`` SDK's own client: Streamable HTTP at ``/mcp`` of a
real uvicorn server, and stdio to a ``mmagent mcp`` subprocess."""

import asyncio
import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import httpx2
import pytest
import soundfile as sf
from mcp import Client, StdioServerParameters
from PIL import Image

from tests.cli.test_cli import _planning_server
from tests.serving.conftest import KEY_A, KEY_B, png_data_url, wav_bytes


def call(server, fn, key=KEY_A):
    """Run ``fn(client)`` on an MCP client connected to ``server``'s /mcp with ``key``."""

    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                  timeout=httpx2.Timeout(60))
        async with http, Client(_transport(server.base_url + "/mcp", http)) as client:
            return await fn(client)

    return asyncio.run(main())


def _transport(url, http):
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)


def test_lists_tools_workflows_and_run_with_typed_schemas(server):
    async def fn(client):
        return (await client.list_tools()).tools

    tools = {t.name: t for t in call(server, fn)}
    assert {"run", "workflow_describe_fake", "workflow_caption_and_speak", "fake_caption",
            "fake_speak"} <= set(tools)
    caption = tools["fake_caption"].input_schema
    assert caption["properties"]["image"]["type"] == "string"  # media arrive as strings
    assert caption["properties"]["delay"]["maximum"] == 5  # bounds from the pydantic model
    assert caption["required"] == ["image"] and "$defs" not in caption
    assert tools["workflow_describe_fake"].input_schema["required"] == ["image"]
    assert tools["run"].input_schema["required"] == ["prompt"]


def test_tool_with_an_image_in_and_audio_out(server):
    async def fn(client):
        described = await client.call_tool("fake_caption", {"image": png_data_url(40, 30)})
        spoken = await client.call_tool("fake_speak", {"text": "hello there"})
        return described, spoken

    described, spoken = call(server, fn)
    assert not described.is_error and described.content[0].text == "a 40x30 picture"
    assert not spoken.is_error
    audio = [c for c in spoken.content if c.type == "audio"]
    assert len(audio) == 1 and audio[0].mime_type.startswith("audio/")
    assert sf.info(io.BytesIO(base64.b64decode(audio[0].data))).samplerate == 16000
    (link,) = [c for c in spoken.content if c.type == "resource_link"]
    got = httpx.get(str(link.uri), headers={"Authorization": f"Bearer {KEY_A}"})
    assert got.status_code == 200 and got.content == base64.b64decode(audio[0].data)
    assert httpx.get(str(link.uri), headers={"Authorization": f"Bearer {KEY_B}"}
                     ).status_code == 404  # another key's artifact
    assert spoken.structured_content["sample_rate"] == 16000


def test_uploaded_artifact_id_as_media(server):
    png = base64.b64decode(png_data_url(12, 10).split(",", 1)[1])
    up = httpx.post(server.base_url + "/v1/files", files={"file": ("p.png", png, "image/png")},
                    headers={"Authorization": f"Bearer {KEY_A}"}).json()

    async def fn(client):
        return await client.call_tool("fake_caption", {"image": up["id"]})

    assert call(server, fn).content[0].text == "a 12x10 picture"
    other = call(server, fn, key=KEY_B)  # not B's upload
    assert other.is_error and "input.not_found" in other.content[0].text


def test_workflow_and_run(server):
    async def fn(client):
        wf = await client.call_tool("workflow_describe_fake", {"image": png_data_url(20, 10)})
        run = await client.call_tool("run", {"prompt": "Describe it and say it aloud",
                                             "images": [png_data_url(32, 24)]})
        return wf, run

    wf, run = call(server, fn)
    assert not wf.is_error and "a 20x10 picture" in wf.content[0].text
    assert [c.type for c in wf.content[1:]] == ["audio", "resource_link"]
    assert not run.is_error and "a 32x24 picture" in run.content[0].text
    assert "/v1/artifacts/" in run.content[0].text
    assert [c.type for c in run.content[1:]] == ["audio", "resource_link"]
    assert [t["tool"] for t in run.structured_content["plan"]["tasks"]] == \
        ["fake_caption", "fake_speak"]


def test_bad_arguments_are_error_results_and_the_server_keeps_serving(server):
    async def fn(client):
        return [await client.call_tool("fake_caption", {"image": "not a url"}),
                await client.call_tool("fake_caption", {"image": png_data_url(), "delay": 99}),
                await client.call_tool("fake_speak", {}),
                await client.call_tool("fake_speak", {"text": "$input.secret"}),
                await client.call_tool("run", {"prompt": "hi", "colour": "red"}),
                await client.call_tool("no_such_tool", {}),
                await client.call_tool("run", {"prompt": "Please fail"}),
                await client.call_tool("fake_speak", {"text": "still here"})]

    *bad, ok = call(server, fn)
    assert all(r.is_error for r in bad)
    texts = [r.content[0].text for r in bad]
    assert "error[input.invalid]" in texts[0] and "'not a url'" in texts[0]
    # checked against the tool's schema before it runs (Executor.run validates every plan)
    assert "error[plan.argument_schema]" in texts[1] and "99" in texts[1]
    assert "error[plan.argument_schema]" in texts[2] and "text" in texts[2]
    assert "references are for plans" in texts.pop(3)
    assert "'colour'" in texts[3]
    assert "error[plan.unknown_tool]" in texts[4]
    assert bad[6].structured_content["failures"]  # a failed task is not reported as done
    assert not ok.is_error


def test_missing_or_wrong_key_gets_401(server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        resp = httpx.post(server.base_url + "/mcp", json=body, headers={
            **headers, "Accept": "application/json, text/event-stream"})
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "auth.invalid_key"

    async def fn(client):
        return await client.list_tools()

    with pytest.raises(BaseException) as info:  # the SDK client reports the refusal
        call(server, fn, key="wrong")
    assert "MCPError" in repr(info.value)


# -- stdio ----------------------------------------------------------------------------------------


@pytest.fixture
def planner_server():
    """An OpenAI-compatible server whose model plans caption -> speech."""
    yield from _planning_server({"tasks": [
        {"id": "t1", "tool": "image_caption", "args": {"image": "$input.image0"}},
        {"id": "t2", "tool": "text_to_speech", "args": {"text": "$t1.text"}}]})


def test_stdio_subprocess_of_mmagent_mcp(tmp_path, planner_server):
    """``mmagent mcp`` with the offline profile's real tools (tiny captioner, espeak-ng speech,
    media utilities) and a planner that always plans caption -> speech; media as file paths."""
    (tmp_path / "mmagent.yaml").write_text(
        f"cache_dir: {tmp_path / 'cache'}\nrouter: {{mode: plan}}\n"
        f"planner: {{backend: openai, model: m, base_url: {planner_server}}}\n")
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(0.4))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (16, 12), (200, 10, 10)).save(photo)
    mmagent = Path(sys.executable).with_name("mmagent")
    params = StdioServerParameters(
        command=str(mmagent), args=["mcp", "--config", str(tmp_path / "mmagent.yaml")],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "unused"},
        cwd=str(tmp_path))

    async def main():
        async with Client(params, read_timeout_seconds=240) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            joined = await client.call_tool("audio_concat", {"clips": [str(clip), str(clip)],
                                                             "gap": 0.2})
            missing = await client.call_tool("audio_concat", {"clips": [str(tmp_path / "no")]})
            wf = await client.call_tool("workflow_caption_and_speak", {"image": str(photo)})
            run = await client.call_tool("run", {"prompt": "Describe it aloud",
                                                 "images": [str(photo)]})
            return tools, joined, missing, wf, run

    tools, joined, missing, wf, run = asyncio.run(main())
    assert {"run", "workflow_caption_and_speak", "image_caption", "audio_concat"} <= tools
    assert not joined.is_error, joined.content
    (audio,) = [c for c in joined.content if c.type == "audio"]
    assert abs(sf.info(io.BytesIO(base64.b64decode(audio.data))).duration - 1.0) < 0.05
    (link,) = [c for c in joined.content if c.type == "resource_link"]
    assert str(link.uri).startswith("file://") and Path(str(link.uri)[7:]).is_file()
    assert missing.is_error and "existing audio file" in missing.content[0].text
    for result in (wf, run):
        assert not result.is_error, result.content
        assert [c.type for c in result.content] == ["text", "audio", "resource_link"]
        wav = base64.b64decode(result.content[1].data)
        assert sf.info(io.BytesIO(wav)).duration > 0.1  # espeak-ng spoke the caption
    assert [t["tool"] for t in run.structured_content["plan"]["tasks"]] == \
        ["image_caption", "text_to_speech"]


def test_readme_mcp_example(server):
    """The README's MCP client example, pointed at the test server."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    marker = "<!-- run by tests/serving/test_mcp_server.py::test_readme_mcp_example -->"
    code = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("http://127.0.0.1:8000", server.base_url).replace("sk-local-1", KEY_A)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert "'run'" in proc.stdout and "workflow_caption_and_speak" in proc.stdout
    assert "picture" in proc.stdout and "\naudio \n" in proc.stdout
    assert "resource_link http://" in proc.stdout


def test_a_tool_that_needs_approval_is_not_run_behind_its_back(tmp_path):
    """MCP tool calls go through the executor: the approval policy holds (in-process client)."""
    from mmagent import Agent, Config
    from mmagent.serving import AgentService
    from mmagent.serving.mcp.service import McpBridge, mcp_server
    from tests.serving.helpers import serving_registry

    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "executor": {"approval": {"tools": ["fake_speak"]}}})
    agent = Agent(cfg, registry=serving_registry())

    async def main():
        async with Client(mcp_server(McpBridge(AgentService(agent)))) as client:
            return (await client.call_tool("fake_speak", {"text": "may I?"}),
                    await client.call_tool("fake_sleep", {"label": "free", "seconds": 0}))

    waiting, free = asyncio.run(main())
    assert waiting.is_error and "awaiting_approval" in waiting.content[0].text
    assert "mmagent resume" in waiting.content[0].text
    assert not any(c.type == "audio" for c in waiting.content)
    assert not free.is_error and free.content[0].text == "free"


def test_resource_links_are_readable_over_mcp_by_their_owner(server):
    from mcp import MCPError

    async def speak(client):
        result = await client.call_tool("fake_speak", {"text": "read me back"})
        (link,) = [c for c in result.content if c.type == "resource_link"]
        (audio,) = [c for c in result.content if c.type == "audio"]
        read = await client.read_resource(str(link.uri))
        return str(link.uri), audio.data, read

    uri, data, read = call(server, speak)
    (contents,) = read.contents
    assert contents.blob == data and contents.mime_type.startswith("audio/")

    async def steal(client):
        return await client.read_resource(uri)

    with pytest.raises(BaseException) as info:  # another key: not found, not the bytes
        call(server, steal, key=KEY_B)
    errors = [info.value]
    while isinstance(errors[0], BaseExceptionGroup):
        errors = list(errors[0].exceptions)
    assert isinstance(errors[0], MCPError) and errors[0].code == -32002
    assert "input.not_found" in errors[0].message
