"""Durable runs: a run killed mid-way is resumed; finished tasks are not run again."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmagent import Agent, Config
from mmagent.errors import RunFinishedError, UnknownRunError
from tests.fakes import policy_registry
from tests.planner.test_planner import Scripted

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from mmagent import Agent, Config
from tests.fakes import policy_registry
from tests.planner.test_planner import Scripted
cfg = Config.from_dict({"cache_dir": sys.argv[1], "planner": {"inputs_first": False}})
agent = Agent(cfg, registry=policy_registry(), planner_backend=Scripted(sys.argv[2]))
for ev in agent.stream("count to three", run_id="run-kill"):
    print(ev.model_dump_json(), flush=True)
"""


def make_agent(cache_dir, *answers, **executor):
    cfg = Config.from_dict({"cache_dir": str(cache_dir), "planner": {"inputs_first": False},
                            "executor": executor})
    return Agent(cfg, registry=policy_registry(), planner_backend=Scripted(*answers))


def count_plan(counter, hold):
    return {"tasks": [
        {"id": "t1", "tool": "fake_count", "args": {"label": "one", "counter": str(counter)}},
        {"id": "t2", "tool": "fake_count", "args": {"label": "two", "counter": str(counter),
                                                    "hold": str(hold), "after": "$t1.text"}},
        {"id": "t3", "tool": "fake_count", "args": {"label": "three", "counter": str(counter),
                                                    "after": "$t2.text"}}]}


def test_killed_run_is_resumed_without_running_finished_tasks_again(tmp_path):
    counter, hold = tmp_path / "calls.txt", tmp_path / "hold"
    hold.touch()  # t2 waits while this exists: the process is killed while t2 runs
    plan = json.dumps(count_plan(counter, hold))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "cache"), plan],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, child.kill)  # never hang the suite
    watchdog.start()
    try:
        for line in child.stdout:
            ev = json.loads(line)
            # t2 starts only after t1's output is recorded: the moment to kill
            if ev["type"] == "task_started" and ev["task_id"] == "t2":
                break
        while counter.read_text().split() != ["one", "two"]:  # t2 is inside the tool now
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL
    assert counter.read_text().split() == ["one", "two"]

    hold.unlink()
    result = make_agent(tmp_path / "cache").resume("run-kill")
    assert result.status == "completed" and result.run_id == "run-kill"
    assert {t: o["text"] for t, o in result.outputs.items()} == {
        "t1": "one", "t2": "two", "t3": "three"}
    # t1 ran once (before the kill); t2 was cut off and ran again; t3 ran once.
    assert counter.read_text().split() == ["one", "two", "two", "three"]
    assert "three" in result.answer
    with pytest.raises(RunFinishedError, match="already finished"):
        make_agent(tmp_path / "cache").resume("run-kill")


def test_resume_of_unknown_run_is_a_typed_error(tmp_path):
    with pytest.raises(UnknownRunError, match="no-such-run") as e:
        make_agent(tmp_path / "cache").resume("no-such-run")
    assert e.value.code == "run.unknown"


def test_cli_resume_of_unknown_run_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    from tests.cli.test_cli import cli

    cfg = tmp_path / "mmagent.yaml"
    cfg.write_text(f"cache_dir: {tmp_path / 'cache'}\n")
    code, out, err = cli(monkeypatch, capsys, "resume", "nope", "--config", str(cfg))
    assert code == 2 and out == ""
    assert err.startswith("error[run.unknown]: ") and "nope" in err


def test_checkpoint_holds_references_not_media_bytes(tmp_path):
    big = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 255, (1500, 1500, 3), dtype=np.uint8)
    Image.fromarray(noise).save(big)  # about 6.8 MB of incompressible pixels
    plan = {"tasks": [{"id": "t1", "tool": "fake_caption", "args": {"image": "$input.image0"}}]}
    agent = make_agent(tmp_path / "cache", json.dumps(plan))
    result = agent.run("describe", images=[big])
    assert result.outputs["t1"]["text"] == "a 1500x1500 picture"
    db = tmp_path / "cache" / "runs.sqlite"
    size = sum(p.stat().st_size for p in db.parent.glob("runs.sqlite*"))
    assert big.stat().st_size > 5_000_000 and size < 300_000, size
