"""Serving layer (installed as ``mmagent.serving``)."""
