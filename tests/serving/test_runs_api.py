"""The runs API (/v1/runs) on a real uvicorn server, through mmagent.Client and raw httpx:
queue per key, events persisted and resumable, cancel, approve, and a second server instance
on the same state database following runs it did not start."""

import base64
import json
import threading

import httpx
import pytest

from mmagent import Agent, Client, Config
from mmagent.errors import InputError, RunError, RunFinishedError, UnknownRunError
from mmagent.events import AnswerReady, ApprovalRequested, PlanCreated, TaskFinished
from mmagent.planner import Completion
from mmagent.serving.server import ServerThread, build_app
from tests.serving.conftest import KEY_A, KEY_B, png_data_url, wav_bytes
from tests.serving.helpers import PlanByInputs, serving_registry

SLOW = {"tasks": [
    {"id": "t1", "tool": "fake_sleep", "args": {"label": "first", "seconds": 1.2}},
    {"id": "t2", "tool": "fake_sleep", "args": {"label": "second", "seconds": 0.0,
                                                "after": "$t1.text"}}]}


class PlanSlowToo(PlanByInputs):
    """PlanByInputs, plus: a request ending in 'slowly' plans two sleeps in a row."""

    def complete(self, messages, *, json_schema=None, max_tokens=512):
        last = [m["content"] for m in messages if m["role"] == "user"][-1]
        if json_schema is not None and "tasks" in json_schema.get("properties", {}) and \
                "slowly" in last.split("\n")[0]:
            return Completion(json.dumps(SLOW), 1, 1)
        return super().complete(messages, json_schema=json_schema, max_tokens=max_tokens)


CAPTION = """\
version: 1
description: Describe an image by its size.
inputs:
  image: {type: image, description: the photo}
nodes:
  caption: {tool: fake_caption, args: {image: $input.image}}
outputs:
  description: $caption.text
"""


def make_config(root, **stores):
    (root / "caption_fake.yaml").write_text(CAPTION)
    return Config.from_dict({
        "cache_dir": str(root / "cache"),
        "workflows": {"paths": [str(root / "caption_fake.yaml")]},
        "executor": {"cache": False, "approval": {"tools": ["fake_speak"]}},
        "serving": {"api_keys": [KEY_A, KEY_B], "runs": {"max_concurrent_per_key": 1,
                                                                  "lease_s": 2}},
        **stores,
    })


def start(cfg):
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanSlowToo())
    return ServerThread(build_app(agent=agent)).start()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two server instances (two apps, two agents) on the same state database and store."""
    cfg = make_config(tmp_path_factory.mktemp("runs"))
    one, two = start(cfg), start(cfg)
    yield one, two
    for srv in (one, two):
        srv.server.config.app.state.runs.join(timeout=10)  # workers finish before the files go
        srv.stop()


@pytest.fixture
def client(servers, tmp_path):
    with Client(servers[0].base_url, KEY_A, download_dir=tmp_path) as c:
        yield c


def test_a_run_is_queued_runs_and_reports_its_results(client):
    created = client.runs.create("Please echo banana")
    assert created.id.startswith("run_") and created.status in ("queued", "running")
    info = client.runs.wait(created.id, timeout=30)
    assert info.status == "completed"
    assert info.plan["tasks"][0]["tool"] == "fake_sleep"
    assert info.outputs["t1"]["text"] == "banana" and "banana" in info.answer
    assert info.id in [r.id for r in client.runs.list()]

    events = list(client.runs.events(created.id))
    assert [i for i, _ in events] == list(range(1, len(events) + 1))  # numbered from 1
    assert isinstance(events[-1][1], AnswerReady)
    assert any(isinstance(e, PlanCreated) for _, e in events)
    # resumed after event 2: exactly the rest, over raw SSE with Last-Event-ID
    with httpx.stream("GET", f"{client.http.base_url}/v1/runs/{created.id}/events",
                      headers={"Authorization": f"Bearer {KEY_A}", "Last-Event-ID": "2"}) as r:
        ids = [int(line[3:]) for line in r.iter_lines() if line.startswith("id:")]
    assert ids == list(range(3, len(events) + 1))
    assert [i for i, _ in client.runs.events(created.id, after=len(events))] == []


def test_a_run_whose_task_fails_again_after_replanning_is_failed(client):
    info = client.runs.wait(client.runs.create("Please fail").id, timeout=30)
    kinds = [e.type for _, e in client.runs.events(info.id)]
    assert "replanned" in kinds and kinds.count("task_failed") == 2, kinds  # nothing ran
    assert info.status == "failed" and info.failures, info


def test_approval_pauses_and_the_approved_run_finishes(client):
    run = client.runs.create("Describe it and say it aloud", images=[png_data_url()])
    paused = client.runs.wait(run.id, timeout=30)
    assert paused.status == "awaiting_approval"
    assert [t["task_id"] for t in paused.pending_approval] == ["t2"]
    assert paused.outputs["t1"]["text"] == "a 32x24 picture" and "t2" not in paused.outputs
    seen = list(client.runs.events(run.id))
    assert isinstance(seen[-1][1], AnswerReady)
    assert any(isinstance(e, ApprovalRequested) for _, e in seen)

    client.runs.approve(run.id, True)
    done = client.runs.wait(run.id, timeout=30)
    assert done.status == "completed" and done.pending_approval is None
    (audio,) = done.artifacts
    assert audio["kind"] == "audio" and audio["url"].endswith(f"/v1/artifacts/{audio['id']}")
    assert client.download(audio["id"], audio["mime"]).stat().st_size > 1000
    more = list(client.runs.events(run.id, after=seen[-1][0]))  # the resumed segment
    assert more[0][0] == seen[-1][0] + 1
    assert any(isinstance(e, TaskFinished) and e.task_id == "t2" for _, e in more)
    with pytest.raises(RunError):
        client.runs.approve(run.id, True)  # nothing waits any more


def test_a_task_can_be_rejected_by_id(client):
    run = client.runs.create("Describe it and say it aloud", images=[png_data_url(8, 8)])
    assert client.runs.wait(run.id, timeout=30).status == "awaiting_approval"
    with pytest.raises(InputError):
        client.runs.approve(run.id, {"t9": True})  # not a waiting task
    client.runs.approve(run.id, {"t2": False})
    done = client.runs.wait(run.id, timeout=30)
    assert done.status == "completed" and done.artifacts == [] and "t2" not in done.outputs


def test_cancel_stops_a_running_run_before_its_next_task(client):
    run = client.runs.create("Sleep twice, slowly")
    while client.runs.get(run.id).status == "queued":
        pass
    cancelled = client.runs.cancel(run.id)
    assert cancelled.cancel_requested or cancelled.status == "cancelled"
    done = client.runs.wait(run.id, timeout=30)
    assert done.status == "cancelled"
    assert "t2" not in done.outputs  # the second task never started
    with pytest.raises(RunFinishedError):
        client.runs.cancel(run.id)


def test_one_key_runs_one_at_a_time_and_others_are_not_held_up(servers, client):
    first = client.runs.create("Sleep twice, slowly")
    second = client.runs.create("Sleep twice, slowly")
    assert client.runs.get(second.id).status == "queued"  # limit 1 per key
    with Client(servers[0].base_url, KEY_B) as other:
        theirs = other.runs.create("Please echo kiwi")
        assert other.runs.wait(theirs.id, timeout=30).status == "completed"
    assert client.runs.get(second.id).status == "queued"  # still behind the first
    cancelled = client.runs.cancel(second.id)  # a queued run is cancelled at once
    assert cancelled.status == "cancelled"
    assert client.runs.wait(first.id, timeout=30).status == "completed"
    assert client.runs.get(second.id).outputs == {}


def test_a_run_left_running_by_an_instance_that_died_is_taken_over(servers, client):
    import hashlib

    queue = servers[0].server.config.app.state.runs.queue
    owner = hashlib.sha256(KEY_A.encode()).hexdigest()
    queue.create("run_orphan", owner, {"prompt": "Please echo pear", "images": [], "audio": [],
                                       "video": []})
    assert queue.claim(owner, limit=1).id == "run_orphan"  # taken by an instance ...
    queue.db.execute("UPDATE mmagent_api_runs SET updated = updated - 60 WHERE id = ?",
                     ("run_orphan",))                       # ... that then went silent
    done = client.runs.wait("run_orphan", timeout=30)     # any look recovers it
    assert done.status == "completed" and done.outputs["t1"]["text"] == "pear"


def test_keys_see_only_their_own_runs(servers, client):
    mine = client.runs.create("Please echo plum")
    with Client(servers[0].base_url, KEY_B) as other:
        with pytest.raises(UnknownRunError) as e:
            other.runs.get(mine.id)
        assert e.value.details["status"] == 404
        with pytest.raises(UnknownRunError):
            other.runs.cancel(mine.id)
        with pytest.raises(UnknownRunError):
            list(other.runs.events(mine.id))
        assert mine.id not in [r.id for r in other.runs.list()]
    client.runs.wait(mine.id, timeout=30)


def test_workflow_run_with_an_uploaded_file_id(client):
    from PIL import Image

    ref = client.upload(Image.new("RGB", (12, 10)), "image")
    resp = client.http.post("/v1/runs", json={"workflow": "caption_fake",
                                              "inputs": {"image": ref.id}})
    assert resp.status_code == 200 and resp.json()["status"] in ("queued", "running")
    done = client.runs.wait(resp.json()["id"], timeout=30)
    assert done.status == "completed" and done.workflow == "caption_fake"
    assert done.outputs["caption"]["text"] == "a 12x10 picture"


def test_bad_requests_get_typed_errors(servers):
    h = {"Authorization": f"Bearer {KEY_A}"}
    url = servers[0].base_url
    both = httpx.post(f"{url}/v1/runs", headers=h, json={"prompt": "x", "workflow": "y"})
    assert both.status_code == 422 and "exactly one of" in both.json()["error"]["message"]
    unknown = httpx.post(f"{url}/v1/runs", headers=h, json={"workflow": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "workflow"
    bad_media = httpx.post(f"{url}/v1/runs", headers=h, json={"prompt": "x",
                                                              "images": ["file.png"]})
    assert bad_media.status_code == 400
    assert httpx.get(f"{url}/v1/runs/run_nope", headers=h).status_code == 404
    assert httpx.get(f"{url}/v1/runs", headers={"Authorization": "Bearer wrong"}
                     ).status_code == 401
    run = httpx.post(f"{url}/v1/runs", headers=h, json={"prompt": "Please echo fig"}).json()
    bad_id = httpx.get(f"{url}/v1/runs/{run['id']}/events",
                       headers={**h, "Last-Event-ID": "x" * 50})
    assert bad_id.status_code == 400 and "Last-Event-ID" in bad_id.json()["error"]["message"]


WAV = wav_bytes(0.1)
BAD_INPUTS = {
    "missing": ({}, 400, "input.missing",
                "got no input 'image' for workflow 'caption_fake'; expected an image (the photo)"),
    "unknown": ({"image": png_data_url(), "picture": png_data_url()}, 400, "input.unknown",
                "got input 'picture' for workflow 'caption_fake', which it does not declare; "
                "expected inputs among 'image' (an image)"),
    "audio for an image": (
        {"image": "data:audio/wav;base64," + base64.b64encode(WAV).decode()}, 400,
        "input.wrong_kind", f"input 'image' of workflow 'caption_fake': got a WAV audio file of "
        f"{len(WAV)} bytes (a data URL); expected an image (PNG, JPEG, WebP, GIF, BMP or TIFF)"),
    "a number for an image": ({"image": 7}, 400, "input.wrong_kind",
                              "input 'image' of workflow 'caption_fake': got 7; expected an "
                              "image as a data: URL, an artifact link or an http(s) URL"),
}


@pytest.mark.parametrize("inputs, status, code, message", BAD_INPUTS.values(), ids=BAD_INPUTS)
def test_a_workflow_run_with_bad_inputs_is_refused_and_none_is_created(client, inputs, status,
                                                                        code, message):
    before = {r.id for r in client.runs.list()}
    resp = client.http.post("/v1/runs", json={"workflow": "caption_fake", "inputs": inputs})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == {"message": message, "type": "invalid_request_error",
                                    "param": None, "code": code}
    assert {r.id for r in client.runs.list()} == before
    # the same check answers a workflow run of /v1/workflows, in the same words
    sync = client.http.post("/v1/workflows/caption_fake/runs", json={"inputs": inputs})
    assert (sync.status_code, sync.json()["error"]["message"]) == (status, message)


def test_an_uploaded_audio_file_given_for_an_image_input_is_refused(client):
    audio = client.http.post("/v1/files", files={"file": ("voice.wav", WAV, "audio/wav")}).json()
    before = {r.id for r in client.runs.list()}
    resp = client.http.post("/v1/runs", json={"workflow": "caption_fake",
                                              "inputs": {"image": audio["id"]}})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "input.wrong_kind"
    assert resp.json()["error"]["message"] == (
        f"input 'image' of workflow 'caption_fake': got artifact {audio['id']}, an audio file "
        "(audio/wav); expected an image")
    assert {r.id for r in client.runs.list()} == before


def test_a_workflow_whose_tools_are_not_served_is_refused_before_a_run_exists(client):
    before = {r.id for r in client.runs.list()}
    resp = client.http.post("/v1/runs", json={"workflow": "caption_and_speak",  # shipped
                                              "inputs": {"image": png_data_url()}})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "plan.unknown_tool"
    assert "image_caption" in resp.json()["error"]["message"]
    assert {r.id for r in client.runs.list()} == before


def test_a_second_instance_follows_and_approves_a_run_the_first_started(servers, tmp_path):
    one, two = servers
    with Client(one.base_url, KEY_A) as c1, Client(two.base_url, KEY_A,
                                                   download_dir=tmp_path) as c2:
        run = c1.runs.create("Describe it and say it aloud", images=[png_data_url(9, 7)])
        followed: list = []
        follower = threading.Thread(target=lambda: followed.extend(c2.runs.events(run.id)))
        follower.start()
        assert c2.runs.wait(run.id, timeout=30).status == "awaiting_approval"
        follower.join(timeout=30)
        assert isinstance(followed[-1][1], AnswerReady)  # the stream ended at the pause
        c2.runs.approve(run.id, True)                    # approved through the other one
        done = c1.runs.wait(run.id, timeout=30)
        assert done.status == "completed" and done.outputs["t2"]["audio"]["kind"] == "audio"
        assert c2.download(done.artifacts[0]["id"], "audio/wav").stat().st_size > 1000


def test_the_readme_runs_example(servers, capsys, monkeypatch):
    """The README's Client.runs example, against this server (approval on, as it shows)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme.split("## Runs API and shared stores", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace("http://127.0.0.1:8000", servers[0].base_url).replace("sk-local-1",
                                                                              KEY_A)
    monkeypatch.chdir(root)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "waiting: ['t2']" in out  # it paused before the speech tool
    assert re.search(r"^completed .*a \d+x\d+ picture", out, re.M | re.S)
    assert out.rstrip().endswith("']") and "/v1/artifacts/" in out.splitlines()[-1]
    assert re.search(r"^1 route$", out, re.M)  # events numbered from 1
