"""End to end on shared stores: two server instances that share only a Postgres database and
an S3 bucket (each has its own cache and artifact directory, as two machines would). A run
started on one is followed, approved and finished through the other, and its media reach
both, without Ray."""

import threading

from PIL import Image

from mmagent import Client
from mmagent.events import AnswerReady, ApprovalRequested
from tests.serving.conftest import KEY_A, KEY_B
from tests.serving.test_runs_api import make_config, start
from tests.stores.conftest import artifacts_section


def test_a_run_started_on_one_instance_is_approved_and_finished_on_another(
        postgres_server, s3_server, tmp_path, monkeypatch, request):
    dsn = postgres_server.new_database()
    artifacts = artifacts_section("s3", request, monkeypatch)
    stores = {"stores": {"state": {"backend": "postgres", "dsn": dsn},
                         "artifacts": artifacts}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = start(make_config(tmp_path / "a", **stores))
    two = start(make_config(tmp_path / "b", **stores))
    try:
        photo = tmp_path / "photo.png"
        Image.new("RGB", (11, 6), (200, 10, 10)).save(photo)
        with Client(one.base_url, KEY_A, download_dir=tmp_path / "dl1") as c1, \
                Client(two.base_url, KEY_A, download_dir=tmp_path / "dl2") as c2:
            run = c1.runs.create("Describe it and say it aloud", images=[photo])
            followed: list = []
            follower = threading.Thread(target=lambda: followed.extend(c2.runs.events(run.id)))
            follower.start()
            paused = c2.runs.wait(run.id, timeout=60)
            assert paused.status == "awaiting_approval"
            assert paused.outputs["t1"]["text"] == "a 11x6 picture"  # ran on instance one
            follower.join(timeout=60)
            assert any(isinstance(e, ApprovalRequested) for _, e in followed)

            c2.runs.approve(run.id, True)  # instance two resumes from Postgres checkpoints
            done = c1.runs.wait(run.id, timeout=60)
            assert done.status == "completed"
            (audio,) = done.artifacts
            # made by instance two, stored in S3, downloaded through instance one
            assert c1.download(audio["id"], audio["mime"]).read_bytes()[:4] == b"RIFF"
            rest = list(c1.runs.events(run.id, after=followed[-1][0]))
            assert isinstance(rest[-1][1], AnswerReady) and rest[0][0] == followed[-1][0] + 1
            assert run.id in [r.id for r in c2.runs.list()]
        with Client(two.base_url, KEY_B) as other:  # ownership is shared as well
            assert run.id not in [r.id for r in other.runs.list()]
            assert other.http.get(f"/v1/artifacts/{audio['id']}").status_code == 404
        objects = s3_server.client().list_objects_v2(Bucket=artifacts["bucket"],
                                                     Prefix=artifacts["prefix"])["Contents"]
        assert any(o["Key"].startswith(artifacts["prefix"] + "objects/")
                   and audio["id"] in o["Key"] for o in objects)
    finally:
        for srv in (one, two):
            srv.server.config.app.state.runs.join(timeout=20)
            srv.stop()
