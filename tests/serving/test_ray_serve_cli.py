"""``mmagent serve --ray`` as a user runs it: a subprocess that starts its own Ray instance.

Each test gives it a one-CPU Ray instance in its own temp dir and checks what a user sees:
it becomes ready although the tools declare more CPUs than there are (or stops at once with a
message naming the setting to change), says what it deploys, and stops on SIGTERM or SIGINT
without leaving a Ray process of that temp dir behind.
"""

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import psutil
import pytest
import yaml

from mmagent.serving.server import free_port

pytestmark = pytest.mark.ray
TOOLS = ["audio_concat", "video_frames"]  # media plumbing: no model to load


def _ray_processes(temp_dir: str) -> list[str]:
    """Processes of the Ray instance in ``temp_dir`` (raylet, gcs_server, agents, workers)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(p.info["cmdline"] or [])
            if temp_dir in cmdline:
                found.append(cmdline[:120])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class _Server:
    """``python -m mmagent.cli._main serve --ray`` with its output read line by line."""

    def __init__(self, tmp_path, ray: dict) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: unix sockets
        self.port = free_port()
        cfg = tmp_path / "mmagent.yaml"
        cfg.write_text(yaml.safe_dump({"cache_dir": str(tmp_path / "cache"), "serving": {
            "auth": False, "ray": {"num_cpus": 1, "temp_dir": self.temp_dir, **ray}}}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mmagent.cli", "serve", "--ray", "--port", str(self.port),
             "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "RAY_AUTH_MODE": "disabled"})
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def output(self) -> str:
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output()}"
            time.sleep(0.2)

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, self.output()
            time.sleep(1)

    def wait_exit(self, timeout: float = 90) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for p in psutil.process_iter(["cmdline"]):  # never leave a test's Ray running
            try:
                if self.temp_dir in " ".join(p.info["cmdline"] or []):
                    p.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue


@pytest.fixture
def server(tmp_path):
    started: list[_Server] = []

    def start(**ray) -> _Server:
        started.append(_Server(tmp_path, ray))
        return started[-1]

    yield start
    for s in started:
        s.kill()


def test_serve_ray_fits_a_small_machine_says_what_it_deploys_and_stops_on_sigterm(server):
    srv = server(deploy=TOOLS)  # 2 tools declaring 1 CPU each + the ingress's 0.5 on 1 CPU
    srv.wait_ready()
    health = httpx.get(f"http://127.0.0.1:{srv.port}/healthz").json()
    assert health["tools"] == TOOLS
    out = srv.output()
    assert "the Ray cluster has 1 CPUs and the deployments ask 2.5" in out
    assert "deploying tool_audio_concat: 1 replica, 0.25 CPU each" in out
    assert "deploying ingress: 1 replica, 0.5 CPU each" in out
    assert _ray_processes(srv.temp_dir)

    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait_exit() == 0, srv.output()
    assert "got SIGTERM: stopping" in srv.output()
    time.sleep(1)  # the raylet's workers notice their raylet is gone
    assert _ray_processes(srv.temp_dir) == []


def test_serve_ray_stops_on_sigint_while_it_starts(server):
    srv = server(deploy=TOOLS[:1])
    srv.wait_for_line("deploying ingress", timeout=120)
    srv.proc.send_signal(signal.SIGINT)
    assert srv.wait_exit() == 0, srv.output()
    assert "got SIGINT: stopping" in srv.output()
    time.sleep(1)
    assert _ray_processes(srv.temp_dir) == []


def test_serve_ray_refuses_cpus_set_beyond_the_cluster_at_once(server):
    srv = server(deploy=TOOLS[:1], tools={"audio_concat": {"num_cpus": 4}})
    assert srv.wait_exit(timeout=120) == 2, srv.output()
    assert "error[config.invalid]: got 4.5 CPUs asked by 2 deployments (4.5 of them set in " \
        "serving.ray); the Ray cluster has 1; expected at most 1: lower " \
        "serving.ray.ingress_num_cpus and serving.ray.tools.<name>.num_cpus" in srv.output()
    assert "deploying" not in srv.output()
    assert _ray_processes(srv.temp_dir) == []
