"""``mcp_servers:``: a real MCP server's tools (tests/mcp_toys.py, written with the SDK) join the
registry and run inside plans and workflows; a server that is down is a clear typed error."""

import subprocess
import sys
from pathlib import Path

import pytest

from mmagent import Agent, Config
from mmagent.plan import Plan
from mmagent.toolkit import McpServerError
from tests.fakes import fake_registry

TOYS = str(Path(__file__).resolve().parents[1] / "mcp_toys.py")
WORKFLOW = """\
version: 1
description: Shout a text through the MCP toys server, then beep it.
inputs:
  text: {type: text, description: what to shout}
nodes:
  loud: {tool: toys_shout, args: {text: $input.text}}
  say: {tool: fake_speak, args: {text: $loud.text}}
outputs:
  loud: $loud.text
  speech: $say.audio
"""


def config(tmp_path, servers, **extra) -> Config:
    return Config.from_dict({"cache_dir": str(tmp_path / "cache"), "mcp_servers": servers,
                             **extra})


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp-client")
    (root / "shout_and_beep.yaml").write_text(WORKFLOW)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMAGENT_TEST_GREETING", "hello from the config")
        mp.setenv("MMAGENT_TEST_SECRET", "not for third parties")
        cfg = config(root, {"toys": {"command": sys.executable, "args": [TOYS],
                                     "env": {"GREETING": "${MMAGENT_TEST_GREETING}"},
                                     "media_outputs": ["image"]}},
                     workflows={"paths": [str(root / "shout_and_beep.yaml")]})
        agent = Agent(cfg, registry=fake_registry())
    yield agent
    for conn in agent.mcp_connections:
        conn.close()


def test_tools_join_the_registry_with_typed_cards(agent):
    names = agent.registry.names()
    assert {"toys_shout", "toys_word_count", "toys_swatch", "fake_caption"} <= set(names)
    shout = agent.registry.tool_class("toys_shout").card()
    assert shout["description"].startswith("Upper-cases text")
    assert shout["inputs"]["text"] == {"type": "text", "description": "Text", "required": True}
    assert shout["outputs"]["text"]["type"] == "text"
    count = agent.registry.tool_class("toys_word_count").card()
    assert count["outputs"]["words"]["type"] == "integer"  # from the server's outputSchema
    swatch = agent.registry.tool_class("toys_swatch").card()
    assert swatch["inputs"]["size"]["type"] == "integer" and not swatch["inputs"]["size"][
        "required"]
    assert swatch["outputs"]["image"]["type"] == "image"  # media_outputs: [image]
    measure = agent.registry.tool_class("toys_measure").card()
    assert measure["inputs"]["image"]["type"] == "image"  # a string with contentMediaType


def test_a_plan_calls_mcp_tools_end_to_end(agent):
    plan = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "toys_shout", "args": {"text": "hello mcp"}},
        {"id": "t2", "tool": "toys_word_count", "args": {"text": "$t1.text"}},
        {"id": "t3", "tool": "toys_swatch", "args": {"color": "red", "size": 12}},
        {"id": "t4", "tool": "fake_caption", "args": {"image": "$t3.image"}},
        {"id": "t5", "tool": "toys_measure", "args": {"image": "$t3.image"}}]})
    result = agent.executor.run(plan, {})
    assert result.ok, result.failures
    assert result.outputs["t1"]["text"] == "HELLO MCP!"
    assert result.outputs["t2"]["words"] == 2 and result.outputs["t2"]["longest"] == "HELLO"
    assert result.outputs["t3"]["image"]["width"] == 12
    assert agent.store.load_image(agent.store.get(result.outputs["t3"]["image"]["id"])
                                  ).getpixel((0, 0)) == (255, 0, 0)
    assert result.outputs["t4"]["text"] == "a 12x12 picture"
    assert result.outputs["t5"]["text"] == "12x12"  # an artifact went out as base64
    # remote calls go out from the executor's threads: no in-process worker batches them
    assert not agent.executor.workers.batch_sizes("toys_shout")


def test_env_reaches_the_server_and_nothing_else_does(agent):
    plan = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "toys_env", "args": {"name": "GREETING"}}]})
    secret = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "toys_env", "args": {"name": "MMAGENT_TEST_SECRET"}}]})
    assert agent_output(agent, plan) == "hello from the config"
    assert agent_output(agent, secret) == ""


def test_a_workflow_calls_an_mcp_tool(agent):
    result = agent.run_workflow("shout_and_beep", {"text": "quiet please"})
    assert result.named_outputs["loud"] == "QUIET PLEASE!"
    assert [a.kind for a in result.artifacts] == ["audio"]


def test_a_remote_error_fails_the_task_with_the_servers_message(agent):
    plan = Plan.model_validate({"tasks": [
        {"id": "t1", "tool": "toys_swatch", "args": {"color": "no-such-colour"}}]})
    result = agent.executor.run(plan, {})
    assert "toys" in result.failures["t1"].message
    assert "answered with an error" in result.failures["t1"].message


def test_http_server_with_headers(server_url_and_key, tmp_path):
    """Our own server's /mcp (Streamable HTTP behind an API key) as an MCP server."""
    url, key = server_url_and_key
    ok = Agent(config(tmp_path, {"self": {"url": url, "headers": {
        "Authorization": f"Bearer {key}"}}}), registry=fake_registry())
    try:
        assert {"self_run", "self_fake_caption"} <= set(ok.registry.names())
        plan = Plan.model_validate({"tasks": [
            {"id": "t1", "tool": "self_fake_sleep", "args": {"label": "over http",
                                                              "seconds": 0}}]})
        assert agent_output(ok, plan) == "over http"
        # media ports both ways: our image goes out as a data URL and is captioned there
        assert ok.registry.tool_class("self_fake_caption").card()["inputs"]["image"][
            "type"] == "image"
        from PIL import Image

        photo = ok.store.put_image(Image.new("RGB", (9, 7)))
        remote = Plan.model_validate({"tasks": [
            {"id": "t1", "tool": "self_fake_caption", "args": {"image": "$input.image0"}}]})
        result = ok.executor.run(remote, {"image0": photo})
        assert result.ok, result.failures
        assert result.outputs["t1"]["text"] == "a 9x7 picture"
    finally:
        for conn in ok.mcp_connections:
            conn.close()
    with pytest.raises(McpServerError) as info:
        Agent(config(tmp_path, {"self": {"url": url, "headers": {
            "Authorization": "Bearer wrong"}}}), registry=fake_registry())
    assert info.value.message.startswith("mcp_servers.self: could not start or reach")


def agent_output(agent, plan) -> str:
    result = agent.executor.run(plan, {})
    assert result.ok, result.failures
    return result.outputs["t1"]["text"]


@pytest.fixture
def server_url_and_key(tmp_path):
    from mmagent.serving.server import ServerThread, build_app
    from tests.serving.helpers import PlanByInputs, serving_registry

    cfg = Config.from_dict({"cache_dir": str(tmp_path / "srv"),
                            "serving": {"api_keys": ["sk-mcp"]}})
    app = build_app(agent=Agent(cfg, registry=serving_registry(),
                                planner_backend=PlanByInputs()))
    with ServerThread(app) as srv:
        yield srv.base_url + "/mcp", "sk-mcp"


def test_down_server_or_failing_command_is_a_typed_error_naming_it(tmp_path):
    from mmagent.serving.server import free_port

    down = {"command": None, "url": f"http://127.0.0.1:{free_port()}/mcp",
            "connect_timeout_s": 10}
    with pytest.raises(McpServerError) as info:
        Agent(config(tmp_path, {"search": down}), registry=fake_registry())
    assert info.value.code == "tool.mcp_unavailable"
    assert info.value.message.startswith("mcp_servers.search: could not start or reach "
                                         "'http://127.0.0.1:")

    with pytest.raises(McpServerError) as info:
        Agent(config(tmp_path, {"notes": {"command": str(tmp_path / "no-such-server")}}),
              registry=fake_registry())
    assert "mcp_servers.notes" in info.value.message and "no-such-server" in info.value.message

    exits = {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"],
             "connect_timeout_s": 10}
    with pytest.raises(McpServerError) as info:
        Agent(config(tmp_path, {"broken": exits}), registry=fake_registry())
    assert "mcp_servers.broken" in info.value.message


def test_config_needs_exactly_one_transport(tmp_path):
    from mmagent.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        config(tmp_path, {"x": {"command": "a", "url": "http://b/mcp"}})
    assert "mcp_servers.x" in info.value.message and "exactly one of command" in \
        info.value.message


def test_cli_reports_a_down_server(tmp_path):
    (tmp_path / "mmagent.yaml").write_text(
        f"cache_dir: {tmp_path / 'cache'}\nmcp_servers:\n  gone:\n"
        f"    command: {tmp_path / 'missing'}\n")
    mmagent = Path(sys.executable).with_name("mmagent")
    proc = subprocess.run([str(mmagent), "tools", "-c", str(tmp_path / "mmagent.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "error[tool.mcp_unavailable]: mcp_servers.gone: could not start" in proc.stderr


def test_readme_mcp_servers_example(tmp_path):
    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    marker = "<!-- run by tests/toolkit/test_mcp_client.py::test_readme_mcp_servers_example -->"
    raw = yaml.safe_load(readme.split(marker, 1)[1].split("```yaml\n", 1)[1].split("```")[0])
    toys = raw["mcp_servers"]["toys"]
    toys["command"] = sys.executable if toys["command"] == "python" else toys["command"]
    toys["cwd"] = str(Path(__file__).resolve().parents[2])
    agent = Agent(config(tmp_path, raw["mcp_servers"]), registry=fake_registry())
    try:
        assert {"toys_shout", "toys_word_count", "toys_swatch"} <= set(agent.registry.names())
        assert agent.registry.tool_class("toys_swatch").card()["outputs"]["image"]["type"] == \
            "image"
    finally:
        for conn in agent.mcp_connections:
            conn.close()


def test_a_name_clash_is_a_config_error(tmp_path):
    from mmagent.errors import ConfigError

    class Taken(fake_registry().tool_class("fake_sleep")):
        name = "toys_shout"

    reg = fake_registry()
    reg.register(Taken)
    with pytest.raises(ConfigError) as info:
        Agent(config(tmp_path, {"toys": {"command": sys.executable, "args": [TOYS]}}),
              registry=reg)
    assert "mcp_servers.toys" in info.value.message and "'toys_shout'" in info.value.message
