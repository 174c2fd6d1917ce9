"""The runs API, ``/v1/runs...`` (its shapes are in :mod:`mmagent.runs`, shared with the
remote client)."""
