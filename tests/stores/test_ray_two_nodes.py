"""Two Ray nodes on this machine that share nothing but Postgres and an S3 bucket.

`ray start --head` and `ray start --address` each get their own temp dir, custom resource
(``node_a`` / ``node_b``) and ``$TMPDIR`` (where replicas keep their artifact cache), all on
127.0.0.1. Tools are placed by those resources: caption and loudness on node a, speech on
node b. Two ingress replicas serve the runs API on the shared state. A run started through one
replica pauses for approval; that replica is killed; the run is approved, resumed, followed and
finished through the other, and the speech made on node b reaches the loudness tool on node a
through the bucket.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx
import psutil
import pytest

from mmagent import Config
from mmagent.toolkit import ToolRegistry
from tests.fakes import FakeCaption, FakeSpeak
from tests.serving.conftest import KEY_A, png_data_url
from tests.serving.helpers import FakeLoudness, PlanCaptionSpeakMeasure
from tests.stores.conftest import artifacts_section

pytestmark = pytest.mark.ray
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# `ray start` resolves 127.0.0.1 to the machine's external address, and refuses a second node
# when RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (what keeps a single instance on loopback): run it
# with the address kept as given, so every listener of both nodes is on 127.0.0.1.
_RAY_START = """
import sys
from ray._private import services
services.resolve_ip_for_localhost = lambda host: host
services.get_node_ip_address = lambda address=None: "127.0.0.1"
from ray.scripts.scripts import main
sys.argv = ["ray", *sys.argv[1:]]
main()
"""


def _start_node(temp_dir: str, tmpdir: str, resource: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    env.update(TMPDIR=tmpdir, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    subprocess.run([sys.executable, "-c", _RAY_START, "start", "--node-ip-address=127.0.0.1",
                    "--num-cpus=1", f"--resources={{\"{resource}\": 1}}",
                    f"--temp-dir={temp_dir}", "--object-store-memory=100000000",
                    "--disable-usage-stats", *args],
                   env=env, check=True, capture_output=True, timeout=180)


def _stop_nodes(temp_dirs: list[str]) -> None:
    """SIGTERM the processes of these nodes (and the workers their raylets started), then
    SIGKILL what is left. Never `ray stop`: it stops every Ray instance on the machine."""
    procs = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(d in " ".join(p.info["cmdline"] or []) for d in temp_dirs):
                procs += [p, *p.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        p.kill()


def _actors(prefix: str) -> list[dict]:
    from ray._private import state

    return [a for a in state.actors(actor_state_name="ALIVE").values()
            if a["Name"].startswith(prefix)]


def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture
def two_nodes(tmp_path):
    dirs = {n: tempfile.mkdtemp(prefix=f"ray{n}-", dir="/tmp") for n in "ab"}
    caches = {n: str(tmp_path / f"tmp_{n}") for n in "ab"}
    for d in caches.values():
        os.makedirs(d)
    from mmagent.serving.server import free_port

    port = free_port()
    try:
        _start_node(dirs["a"], caches["a"], "node_a", "--head", f"--port={port}",
                    "--include-dashboard=false")
        _start_node(dirs["b"], caches["b"], "node_b", f"--address=127.0.0.1:{port}")
        yield f"127.0.0.1:{port}", caches
    finally:
        import ray

        if ray.is_initialized():
            from ray import serve

            try:
                serve.shutdown()
            finally:
                ray.shutdown()
        _stop_nodes(list(dirs.values()))


def test_a_run_moves_between_ingress_replicas_and_its_media_between_nodes_through_s3(
        two_nodes, postgres_server, s3_server, tmp_path, monkeypatch, request):
    import ray
    from ray import serve

    from mmagent.serving.ray.deployments import build_ray_app, start_ray
    from mmagent.serving.server import free_port

    address, caches = two_nodes
    artifacts = artifacts_section("s3", request, monkeypatch)
    start_ray(address=address, runtime_env={"env_vars": {
        "PYTHONPATH": ROOT, "HF_HUB_OFFLINE": "1",
        "MMAGENT_TEST_S3_KEY": s3_server.access_key,
        "MMAGENT_TEST_S3_SECRET": s3_server.secret_key}})
    nodes = {n: next(x["NodeID"] for x in ray.nodes() if x["Alive"]
                     and f"node_{n}" in x["Resources"]) for n in "ab"}
    http_port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1",
                                                         "port": http_port})
    on = {"a": {"num_cpus": 0.1, "resources": {"node_a": 0.01}},
          "b": {"num_cpus": 0.1, "resources": {"node_b": 0.01}}}
    cfg = Config.from_dict({
        "cache_dir": str(tmp_path / "cache"),
        "executor": {"cache": False, "approval": {"tools": ["fake_speak"]}},
        "stores": {"state": {"backend": "postgres", "dsn": postgres_server.new_database()},
                   "artifacts": artifacts},
        "serving": {"api_keys": [KEY_A], "ray": {
            "ingress_replicas": 2, "ingress_num_cpus": 0.2,
            "tools": {"fake_caption": on["a"], "fake_loudness": on["a"],
                      "fake_speak": on["b"]}}}})
    reg = ToolRegistry()
    for cls in (FakeCaption, FakeSpeak, FakeLoudness):
        reg.register(cls)
    serve.run(build_ray_app(cfg, reg, planner_backend=PlanCaptionSpeakMeasure()),
              name="mmagent", route_prefix="/")
    http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=60,
                        headers={"Authorization": f"Bearer {KEY_A}"})

    # 1. tools sit where their resources put them
    placed = {a["Name"].split("#")[1]: a["Address"]["NodeID"]
              for a in _actors("SERVE_REPLICA::mmagent#tool_")}
    assert placed == {"tool_fake_caption": nodes["a"], "tool_fake_loudness": nodes["a"],
                      "tool_fake_speak": nodes["b"]}

    # 2. started through one ingress replica, the run pauses before the speech
    created = http.post("/v1/runs", json={"prompt": "Describe, say and measure it",
                                          "images": [png_data_url()]})
    assert created.status_code == 200, created.text
    run_id, first = created.json()["id"], created.headers["x-mmagent-replica"]
    _until(lambda: http.get(f"/v1/runs/{run_id}").json()["status"] == "awaiting_approval",
           90, "the run to pause for approval")

    # 3. that replica dies; the approval goes to another, which resumes the run
    (victim,) = [a["Pid"] for a in _actors("SERVE_REPLICA::mmagent#ingress#")
                 if a["Name"].endswith("#" + first)]
    os.kill(victim, signal.SIGKILL)

    def approve():
        try:
            r = http.post(f"/v1/runs/{run_id}/approve", json={"approve": True})
        except httpx.HTTPError:
            return None
        return r if r.status_code < 500 else None

    approved = _until(approve, 60, "a live ingress replica to take the approval")
    assert approved.status_code == 200, approved.text
    assert approved.headers["x-mmagent-replica"] != first
    done = _until(lambda: (r := http.get(f"/v1/runs/{run_id}").json())["status"] in
                  ("completed", "failed", "cancelled") and r, 90, "the run to finish")
    assert done["status"] == "completed", done
    assert done["outputs"]["t1"]["text"] == "a 32x24 picture"
    assert done["outputs"]["t3"]["text"].startswith("peak 0.30 over ")

    # 4. its whole story is there for any replica to replay
    with http.stream("GET", f"/v1/runs/{run_id}/events") as resp:
        kinds = [line.removeprefix("data: ") for line in resp.iter_lines()
                 if line.startswith("data: ")]
    text = "\n".join(kinds)
    assert '"approval_requested"' in text and text.count('"task_finished"') == 3

    # 5. the speech made on node b reached node a through the bucket
    (audio,) = [a for a in done["artifacts"] if a["kind"] == "audio"]
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(
        Bucket=artifacts["bucket"], Prefix=artifacts["prefix"])["Contents"]]
    assert any(audio["id"] in k for k in keys)
    for n in "ab":  # written by node b's replica; fetched from S3 by node a's
        cached = list((tmp_path / f"tmp_{n}" / "mmagent-artifacts").rglob(audio["id"] + ".*"))
        assert [p for p in cached if p.suffix == ".wav"], n
    got = http.get(f"/v1/artifacts/{audio['id']}")
    assert got.status_code == 200 and got.content[:4] == b"RIFF"
