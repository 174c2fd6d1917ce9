"""Ray Serve: two tiny tools as deployments and the ingress, on a local Ray instance."""

import os
import tempfile
from pathlib import Path

import httpx
import openai
import pytest

from mmagent import Config
from mmagent.registry import ToolRegistry
from tests.fakes import FakeCaption, FakeSpeak
from tests.serving.conftest import KEY_A, png_data_url
from tests.serving.helpers import PlanByInputs

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    from ray import serve

    from mmagent.serving.ray_app import build_ray_app, start_ray
    from mmagent.serving.server import free_port

    root = tmp_path_factory.mktemp("ray")
    start_ray(temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"), num_cpus=2,
              runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                                        "MMAGENT_API_KEYS": KEY_A}})
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    cfg = Config.from_dict({"cache_dir": str(root / "cache"), "serving": {"ray": {
        "ingress_num_cpus": 0.2, "defaults": {"num_cpus": 0.2, "max_batch_size": 4}}}})
    reg = ToolRegistry()
    for cls in (FakeCaption, FakeSpeak):
        reg.register(cls)
    serve.run(build_ray_app(cfg, reg, planner_backend=PlanByInputs()), name="mmagent",
              route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        import ray

        serve.shutdown()
        ray.shutdown()


def test_two_step_plan_through_tool_deployments(ray_server):
    from ray import serve

    deployments = serve.status().applications["mmagent"].deployments
    assert {"tool_fake_caption", "tool_fake_speak", "ingress"} <= set(deployments)
    client = openai.OpenAI(base_url=ray_server + "/v1", api_key=KEY_A, max_retries=0)
    resp = client.chat.completions.create(model="mmagent", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Describe it and say it aloud"},
        {"type": "image_url", "image_url": {"url": png_data_url()}}]}])
    content = resp.choices[0].message.content
    assert "a 32x24 picture" in content
    assert [t["tool"] for t in resp.mmagent["plan"]["tasks"]] == ["fake_caption", "fake_speak"]
    (audio,) = resp.mmagent["artifacts"]
    got = httpx.get(audio["url"], headers={"Authorization": f"Bearer {KEY_A}"})
    assert got.status_code == 200 and got.content[:4] == b"RIFF"
    assert os.environ.get("MMAGENT_API_KEYS") != KEY_A  # the key went only to the replicas


def test_emit_config_is_a_valid_serve_config(tmp_path, monkeypatch):
    import yaml
    from ray.serve.schema import ServeDeploySchema
    from typer.testing import CliRunner

    from mmagent.cli import app

    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(yaml.safe_dump({"serving": {"api_keys": ["sk-secret"], "ray": {"tools": {
        "image_caption": {"num_gpus": 0.5, "max_batch_size": 16,
                          "autoscaling": {"min_replicas": 1, "max_replicas": 4}}}}}}))
    out = tmp_path / "serve.yaml"
    res = CliRunner().invoke(app, ["serve", "--ray", "--emit-config", str(out), "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    schema = ServeDeploySchema.model_validate(yaml.safe_load(out.read_text()))
    (application,) = schema.applications
    assert application.import_path == "mmagent.serving.ray_app:app_builder"
    caption = next(d for d in application.deployments if d.name == "tool_image_caption")
    assert caption.ray_actor_options.num_gpus == 0.5
    assert caption.autoscaling_config["max_replicas"] == 4
    assert caption.max_ongoing_requests >= 16 and caption.user_config["max_batch_size"] == 16
    assert "sk-secret" not in out.read_text()


def test_mcp_and_responses_through_the_ray_ingress(ray_server):
    """/mcp (SDK client) and /v1/responses (openai) answer from the Serve ingress too."""
    import asyncio

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60)
        async with http, Client(streamable_http_client(ray_server + "/mcp",
                                                       http_client=http)) as client:
            return await client.call_tool("fake_caption", {"image": png_data_url(6, 4)})

    assert asyncio.run(main()).content[0].text == "a 6x4 picture"
    client = openai.OpenAI(base_url=ray_server + "/v1", api_key=KEY_A, max_retries=0)
    resp = client.responses.create(model="mmagent", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Describe it"},
        {"type": "input_image", "image_url": png_data_url(6, 4)}]}])
    assert "a 6x4 picture" in resp.output_text
