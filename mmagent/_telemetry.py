"""OpenTelemetry traces: one span per run, per planning, per LLM call and per task.

The core only uses ``opentelemetry-api``: without a configured tracer provider every span is
a no-op. ``telemetry.otlp_endpoint`` in ``mmagent.yaml`` installs the SDK's provider with an
OTLP/HTTP exporter (the ``otlp`` extra: ``pip install 'mmagent[otlp]'``); an application that
sets up its own provider (``trace.set_tracer_provider``) gets the spans there instead.

Spans and their attributes:

- ``mmagent.run`` (``mmagent.run_id``, ``mmagent.route``, ``mmagent.workflows``,
  ``mmagent.status``, ``mmagent.tasks``)
- ``mmagent.plan`` (``mmagent.plan._ir.attempts``, ``mmagent.plan._ir.cached``, ``mmagent.tasks``)
- ``mmagent.llm`` for every chat call (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens``, following OpenTelemetry's GenAI conventions)
- ``mmagent.task`` (``mmagent.task_id``, ``mmagent.toolkit``, ``mmagent.batch_size``,
  ``mmagent.device``, ``mmagent.cache_hit``; status ERROR with the error code on failure)

>>> with span("mmagent.example", {"mmagent.tool": "image_caption"}) as s:  # no-op by default
...     s.set_attribute("mmagent.cache_hit", False)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from mmagent.config._telemetry import TelemetryConfig
from mmagent.errors import ConfigError

__all__ = ["configure", "span", "fail", "TracedBackend", "TRACER_NAME"]

logger = logging.getLogger(__name__)
TRACER_NAME = "mmagent"
_configured: dict[str, Any] = {}
_lock = threading.Lock()


def configure(cfg: TelemetryConfig) -> None:
    """Install an OTLP-exporting tracer provider once per process, if ``cfg`` asks for one."""
    if not cfg.otlp_endpoint:
        return
    with _lock:
        if _configured:
            if _configured["endpoint"] != cfg.otlp_endpoint:
                logger.warning("telemetry already exports to %s; ignoring %s",
                               _configured["endpoint"], cfg.otlp_endpoint)
            return
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as e:
            raise ConfigError(f"got telemetry.otlp_endpoint={cfg.otlp_endpoint!r}, but the OTLP "
                              f"exporter is not installed ({e.name}); expected "
                              "`pip install 'mmagent[otlp]'`", key="telemetry.otlp_endpoint"
                              ) from e
        provider = TracerProvider(resource=Resource.create({"service.name": cfg.service_name}))
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=cfg.otlp_endpoint, headers=cfg.headers or None)))
        trace.set_tracer_provider(provider)
        _configured["endpoint"] = cfg.otlp_endpoint


@contextmanager
def span(name: str, attributes: dict[str, Any] | None = None) -> Iterator[Span]:
    """A span under the current one; an exception sets status ERROR (with its code) and
    propagates."""
    tracer = trace.get_tracer(TRACER_NAME)
    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(name, attributes=attrs, record_exception=True,
                                      set_status_on_exception=False) as s:
        try:
            yield s
        except BaseException as e:
            code = getattr(e, "code", None)
            if isinstance(code, str):
                s.set_attribute("mmagent.error_code", code)
            s.set_status(Status(StatusCode.ERROR, f"{type(e).__name__}: {e}"[:500]))
            raise


def fail(s: Span, code: str, message: str) -> None:
    """Mark ``s`` failed without an exception (failures the executor reports as data)."""
    s.set_attribute("mmagent.error_code", code)
    s.set_status(Status(StatusCode.ERROR, message[:500]))


class TracedBackend:
    """A chat backend whose every ``complete`` is an ``mmagent.llm`` span with token counts."""

    def __init__(self, backend: Any) -> None:
        self.inner = backend

    def complete(self, messages, *, json_schema=None, max_tokens: int = 512):
        model = getattr(self.inner, "model", None) or getattr(self.inner, "model_id", None)
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "mmagent",
                 "gen_ai.request.model": model if isinstance(model, str) else
                 type(self.inner).__name__,
                 "gen_ai.request.max_tokens": max_tokens,
                 "mmagent.llm.constrained": json_schema is not None}
        with span("mmagent.llm", attrs) as s:
            completion = self.inner.complete(messages, json_schema=json_schema,
                                             max_tokens=max_tokens)
            s.set_attribute("gen_ai.usage.input_tokens", int(completion.prompt_tokens))
            s.set_attribute("gen_ai.usage.output_tokens", int(completion.completion_tokens))
            return completion

    def __getattr__(self, name: str) -> Any:  # the backend's other attributes pass through
        return getattr(self.inner, name)
