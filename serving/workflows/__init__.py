"""``GET /v1/workflows`` and ``POST /v1/workflows/{name}/runs``."""
