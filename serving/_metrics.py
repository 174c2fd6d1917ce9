"""Prometheus metrics of one server: HTTP requests and latency, tool calls and errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """One registry per app (several servers in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("mmagent_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("mmagent_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30,
                                          60, 120))
        self.tool_calls = Counter("mmagent_tool_calls", "tool calls started", ["tool"],
                                  registry=self.registry)
        self.tool_errors = Counter("mmagent_tool_errors", "tool calls that failed", ["tool"],
                                   registry=self.registry)

    def observe_event(self, event) -> None:
        kind = getattr(event, "type", None)
        if kind == "task_started":
            self.tool_calls.labels(event.tool).inc()
        elif kind == "task_failed":
            self.tool_errors.labels(event.tool).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
