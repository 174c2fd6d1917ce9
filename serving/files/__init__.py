"""``POST /v1/files`` (uploads) and ``GET /v1/artifacts/{id}`` (downloads)."""
