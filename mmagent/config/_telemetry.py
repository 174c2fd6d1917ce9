"""The ``telemetry:`` section of ``mmagent.yaml``: where OpenTelemetry traces go (the spans
are :mod:`mmagent._telemetry`).

>>> TelemetryConfig().otlp_endpoint is None  # off by default
True
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TelemetryConfig"]


class TelemetryConfig(BaseModel):
    """``telemetry:`` in ``mmagent.yaml``. Off unless ``otlp_endpoint`` is set."""

    model_config = ConfigDict(extra="forbid")

    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP traces endpoint, e.g. "
                                      "http://127.0.0.1:4318/v1/traces; None = no export")
    service_name: str = Field("mmagent", description="service.name of the exported spans")
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers "
                                    "sent to the collector (e.g. an API key)")
