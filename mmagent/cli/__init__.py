"""The ``mmagent`` command line (``main`` is the console script)."""

from mmagent.cli._main import app, main

__all__ = ["app", "main"]
