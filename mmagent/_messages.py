"""Error messages bounded for whoever reads them: one line, a size limit, long tokens cut; and
for a remote client, no absolute paths of the server and no Python object reprs.

>>> one_line("got id " + "x" * 5000 + "\\nsecond line").replace("x" * 80, "x...x")
'got id x...x… (5000 chars) second line'
>>> for_client("could not read '/srv/app/graphs/a.yaml': <_io.BytesIO object at 0x7f3a2c>")
"could not read 'a.yaml': <BytesIO>"
>>> for_client("The actor died unexpectedly (ActorID: 9f3c2a, pid=4242, ip=10.0.3.7).")
'The actor died unexpectedly ().'
"""

from __future__ import annotations

import re

__all__ = ["one_line", "for_client", "MAX_MESSAGE", "MAX_TOKEN"]

MAX_MESSAGE = 1000
"""Longest message shown, in characters."""
MAX_TOKEN = 80
"""Longest unbroken run of characters echoed back (a 64-hex artifact id fits; a 5,000-character
"id" or a data URL does not)."""

_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"\S{" + str(MAX_TOKEN + 1) + ",}")
_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>")
# where a process runs (Ray: actor, worker and node ids, pids, node addresses)
_PROCESS = re.compile(r"(?i)\b(?:actor[ _]?id|worker[ _]?id|node[ _]?id|node[ _]?ip(?:[ _]address)?"
                      r"|pid|ip)\s*[=:]\s*[\w.:-]+,?\s*")
# an absolute path that is not part of a URL: keep its last component
_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"/:,;()<>]+/)+([^\s'\"/:,;()<>]*)")


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line, each token at most :data:`MAX_TOKEN` characters, the whole
    at most ``limit``."""
    text = _SPACE.sub(" ", str(message)).strip()
    text = _TOKEN.sub(lambda m: f"{m.group()[:MAX_TOKEN]}… ({len(m.group())} chars)", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def for_client(message: str, limit: int = MAX_MESSAGE) -> str:
    """:func:`one_line`, less what only the server should see: absolute file system paths
    (reduced to their file name), object reprs (reduced to the type name), and process
    identities (actor/worker/node ids, pids, node addresses: removed)."""
    text = _REPR.sub(r"<\1>", str(message))
    text = _PROCESS.sub("", text)
    text = _PATH.sub(r"\1", text)
    return one_line(text, limit)
