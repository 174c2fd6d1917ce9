"""Operators' endpoints: ``GET /healthz`` and ``GET /metrics``."""
