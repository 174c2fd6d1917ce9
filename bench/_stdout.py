"""``--json`` means one JSON object on stdout and nothing else. From :func:`json_stdout` on,
file descriptor 1 points at stderr, so whatever libraries print (Ray's worker logs, C
extensions, progress bars; child processes inherit it) lands on stderr; ``emit`` points it
back at stdout and prints the object alone."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["json_stdout"]


def json_stdout(enabled: bool) -> Callable[[Any], None]:
    """Call first thing in ``main``; ``emit(obj)`` prints the result (indented JSON)."""
    if not enabled:
        return lambda obj: print(json.dumps(obj, indent=2))
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)

    def emit(obj: Any) -> None:  # puts stdout back first: a caller in-process finds it as it was
        sys.stdout.flush()
        os.dup2(real, 1)
        os.close(real)
        print(json.dumps(obj, indent=2), flush=True)

    return emit
