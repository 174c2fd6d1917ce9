"""A workflow run killed in its first stage and resumed finishes exactly what an uninterrupted
run would, later `when`-gated stages included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mmagent import Agent, Config
from mmagent.events import TaskStarted
from mmagent.runs import RunStore
from tests.fakes import fake_registry

ROOT = Path(__file__).resolve().parents[2]

# stage 1: quick and slow; stage 2: `later`, whose `when` reads quick's output
WORKFLOW = """\
version: 1
inputs:
  word: {type: text, default: go}
nodes:
  quick: {tool: fake_sleep, args: {label: $input.word, seconds: 0.0}}
  slow: {tool: fake_sleep, args: {label: slow, seconds: 4}}
  later:
    tool: fake_sleep
    when: {$quick.text: {equals: go}}
    args: {label: $slow.text, seconds: 0.0}
outputs:
  first: $quick.text
  second: $later.text
"""

CHILD = """\
import sys
from mmagent import Agent, Config
from mmagent.events import RunStarted
from tests.fakes import fake_registry
cfg = Config.from_dict({{"cache_dir": {cache!r}, "executor": {{"cache": False}}}})
for ev in Agent(cfg, registry=fake_registry()).stream_workflow({path!r}):
    if isinstance(ev, RunStarted):
        print(ev.run_id, flush=True)
"""


def _agent(cache: Path) -> Agent:
    cfg = Config.from_dict({"cache_dir": str(cache), "executor": {"cache": False}})
    return Agent(cfg, registry=fake_registry())


def test_a_workflow_killed_in_stage_one_resumes_through_its_when_gated_stage(tmp_path):
    path = tmp_path / "two_stages.yaml"
    path.write_text(WORKFLOW)
    cache = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(cache=str(cache), path=str(path))], cwd=ROOT,
        stdout=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        run_id = child.stdout.readline().strip()
        assert len(run_id) == 32, run_id
        runs = RunStore(cache / "runs.sqlite")
        deadline = time.monotonic() + 60
        while not (runs.exists(f"{run_id}.1") and "quick" in runs.results(f"{run_id}.1")[0]):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)  # mid stage 1: `slow` sleeps for 4 s
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    assert runs.get(run_id).status == "running"

    resumed = _agent(cache).resume(run_id)

    started = [e.task_id for e in resumed.events if isinstance(e, TaskStarted)]
    assert started == ["slow", "later"]  # quick finished before the kill: not run again
    assert resumed.status == "completed" and resumed.run_id == run_id
    uninterrupted = _agent(tmp_path / "other").run_workflow(path)
    assert resumed.named_outputs == uninterrupted.named_outputs == {"first": "go",
                                                                    "second": "slow"}
    assert runs.get(run_id).status == "completed"


def test_workflow_run_prints_its_run_id_and_json_has_it(tmp_path):
    # the run id, through the CLI (real tools: the shipped caption_and_speak)
    env = {**os.environ, "MMAGENT_CACHE": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "mmagent.cli", "workflow", "run", "caption_and_speak",
            "--input", f"image={ROOT / 'examples' / 'photo.png'}", "--input", "speak=false"]
    shown = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert shown.returncode == 0, shown.stderr
    printed = [line.split()[1] for line in shown.stdout.splitlines() if line.startswith("run ")]
    assert len(printed) == 1 and len(printed[0]) == 32, shown.stdout
    as_json = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env,
                             timeout=600)
    data = json.loads(as_json.stdout)
    assert len(data["run_id"]) == 32 and data["run_id"] != printed[0]
    assert RunStore(tmp_path / "cache" / "runs.sqlite").get(data["run_id"]).status == \
        "completed"
