"""OpenTelemetry spans of an Agent run and of an HTTP request, read with the SDK's in-memory
exporter."""

import doctest
import json
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image

import mmagent._telemetry
from mmagent import Agent, Config
from mmagent.errors import ConfigError, ToolExecutionError
from mmagent.serving.server import ServerThread, build_app
from tests.fakes import fake_registry
from tests.otel import span_exporter
from tests.planner.test_planner import GOOD, Scripted
from tests.serving.helpers import PlanByInputs, serving_registry


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.png"
    Image.new("RGB", (32, 24), (0, 128, 255)).save(p)
    return p


def _by_name(spans):
    out = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def _ancestors(span, spans):
    by_id = {s.context.span_id: s for s in spans}
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def test_agent_run_spans_plan_llm_calls_and_tasks(tmp_path, photo):
    exporter = span_exporter()
    backend = Scripted(json.dumps(GOOD), json.dumps(GOOD))
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache")})
    agent = Agent(cfg, registry=fake_registry(), planner_backend=backend)
    result = agent.run("Describe it and say it aloud", images=[photo])

    spans = exporter.get_finished_spans()
    named = _by_name(spans)
    (run,) = named["mmagent.run"]
    assert run.attributes["mmagent.run_id"] == result.run_id
    assert run.attributes["mmagent.status"] == "completed"
    assert run.attributes["mmagent.route"] == "plan"
    (plan,) = named["mmagent.plan"]
    assert plan.attributes["mmagent.tasks"] == len(result.plan.tasks)
    assert _ancestors(plan, spans) == ["mmagent.run"]
    llm = named["mmagent.llm"]
    # every chat call the planner made is a span, with the tokens the backend counted
    assert len(llm) == len(backend.calls) + len(backend.deliver_calls)
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in llm) == 10 * len(llm)
    assert {s.attributes["gen_ai.usage.output_tokens"] for s in llm} == {3, 5}
    assert all(_ancestors(s, spans) == ["mmagent.plan", "mmagent.run"] for s in llm)
    tasks = {s.attributes["mmagent.task_id"]: s for s in named["mmagent.task"]}
    assert {t: s.attributes["mmagent.tool"] for t, s in tasks.items()} == \
        {t.id: t.tool for t in result.plan.tasks}
    for s in tasks.values():
        assert _ancestors(s, spans)[-1] == "mmagent.run"  # the run's trace, across threads
        assert s.context.trace_id == run.context.trace_id
        assert s.attributes["mmagent.batch_size"] == 1
        assert s.attributes["mmagent.device"] == agent.registry.get(s.attributes[
            "mmagent.tool"]).device()
        assert s.attributes["mmagent.cache_hit"] is False

    exporter.clear()  # the same request again: every task is a cache hit
    again = agent.run("Describe it and say it aloud", images=[photo])
    assert sorted(again.cached) == ["t1", "t2"]
    hits = [s.attributes["mmagent.cache_hit"] for s in exporter.get_finished_spans()
            if s.name == "mmagent.task"]
    assert hits == [True, True]


def test_failed_task_span_is_an_error(tmp_path):
    exporter = span_exporter()
    plan = {"tasks": [{"id": "t1", "tool": "fake_fail", "args": {"text": "x"}}]}
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "planner": {"replan_attempts": 0}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=Scripted(json.dumps(plan)))
    with pytest.raises(ToolExecutionError):
        agent.run("fail")
    (task,) = [s for s in exporter.get_finished_spans() if s.name == "mmagent.task"]
    assert task.status.status_code.name == "ERROR"
    assert task.attributes["mmagent.error_code"]
    (run,) = [s for s in exporter.get_finished_spans() if s.name == "mmagent.run"]
    assert run.attributes["mmagent.status"] == "failed"


def test_http_request_span_contains_the_run(tmp_path):
    exporter = span_exporter()
    cfg = Config.from_dict({"cache_dir": str(tmp_path / "cache"),
                            "serving": {"api_keys": ["sk-t"]}})
    agent = Agent(cfg, registry=serving_registry(), planner_backend=PlanByInputs())
    with ServerThread(build_app(agent=agent)) as srv:
        r = httpx.post(f"{srv.base_url}/v1/chat/completions", timeout=30,
                       headers={"Authorization": "Bearer sk-t"},
                       json={"model": "mmagent", "stream": True,
                             "messages": [{"role": "user", "content": "Say hello"}]})
        assert r.status_code == 200 and "[DONE]" in r.text
    spans = exporter.get_finished_spans()
    (server,) = [s for s in spans if s.kind.name == "SERVER"]
    assert server.attributes["http.route"] == "/v1/chat/completions"
    run = next(s for s in spans if s.name == "mmagent.run")
    task = next(s for s in spans if s.name == "mmagent.task")
    assert run.context.trace_id == server.context.trace_id == task.context.trace_id
    assert _ancestors(run, spans)[-1] == server.name


def test_otlp_endpoint_is_validated_by_config():
    with pytest.raises(ConfigError, match="telemetry.otlp_endpoint"):
        Config.from_dict({"telemetry": {"otlp_endpoint": 4318}})


def test_configured_otlp_endpoint_receives_the_spans(tmp_path):
    """A real OTLP/HTTP exporter (in a fresh process: a provider is set once per process)
    posts the run's spans to the configured collector."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    script = textwrap.dedent(f"""
        import json
        from mmagent import Agent, Config
        from tests.planner.test_planner import Scripted
        from tests.serving.helpers import echo_plan, serving_registry
        cfg = Config.from_dict({{"cache_dir": {str(tmp_path / "cache")!r},
                                "telemetry": {{"otlp_endpoint": {endpoint!r},
                                              "service_name": "mmagent-test"}}}})
        agent = Agent(cfg, registry=serving_registry(),
                      planner_backend=Scripted(json.dumps(echo_plan("hi"))))
        print(agent.run("Say hi").status)
    """)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=120)
    finally:
        collector.shutdown()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "completed"
    names, services = [], set()
    for body in received:
        req = ExportTraceServiceRequest.FromString(body)
        for rs in req.resource_spans:
            services |= {a.value.string_value for a in rs.resource.attributes
                         if a.key == "service.name"}
            names += [s.name for ss in rs.scope_spans for s in ss.spans]
    assert services == {"mmagent-test"}
    assert set(names) == {"mmagent.run", "mmagent.plan", "mmagent.llm", "mmagent.task"}
    assert names.count("mmagent.run") == names.count("mmagent.task") == 1


def test_module_example_runs():
    assert doctest.testmod(mmagent._telemetry).failed == 0
