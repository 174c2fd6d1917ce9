"""API keys (compared in constant time) and who may read which artifact.

Keys come from ``serving.api_keys`` and the variable named by ``serving.api_keys_env``
(comma-separated). The server never stores a key: an artifact's owner is the sha256 of the key
that created or uploaded it, kept in the state database (:mod:`mmagent.stores`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from pathlib import Path

from mmagent.config import ServingSettings
from mmagent.errors import ConfigError
from mmagent.serving._http_errors import AuthError

__all__ = ["KeyRing", "Owners", "ANONYMOUS"]

ANONYMOUS = "anonymous"
"""The owner of everything when auth is off."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """Checks ``Authorization: Bearer <key>`` against the configured keys."""

    def __init__(self, settings: ServingSettings) -> None:
        keys = list(settings.api_keys)
        keys += [k.strip() for k in os.environ.get(settings.api_keys_env, "").split(",")
                 if k.strip()]
        self.enabled = settings.auth
        if self.enabled and not keys:
            raise ConfigError(f"serving: no API keys; set {settings.api_keys_env}=key1,key2 or "
                              "serving.api_keys in mmagent.yaml (or serving.auth: false on a "
                              "trusted host)", key="serving.api_keys")
        self._keys = [k.encode() for k in keys]

    def owner(self, authorization: str | None) -> str:
        """The owner id (sha256 of the key) for an ``Authorization`` header; AuthError if the
        key is missing or unknown."""
        if not self.enabled:
            return ANONYMOUS
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthError("got no API key; expected the header 'Authorization: Bearer <key>'")
        given = key.strip().encode()
        ok = False
        for k in self._keys:  # compare with every key, so timing says nothing about which
            ok |= hmac.compare_digest(given, k)
        if not ok:
            raise AuthError("got an API key this server does not accept; expected one of the "
                            "configured keys")
        return _digest(key.strip())


class Owners:
    """Artifact id -> the owners (key digests) that may read it. Append-only on disk."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._owners: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        if path is not None and path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    self._owners.setdefault(rec["artifact"], set()).add(rec["owner"])

    def add(self, owner: str, artifact_id: str) -> None:
        with self._lock:
            owners = self._owners.setdefault(artifact_id, set())
            if owner in owners:
                return
            owners.add(owner)
            if self.path is not None:
                with self.path.open("a") as f:
                    f.write(json.dumps({"artifact": artifact_id, "owner": owner}) + "\n")

    def owns(self, owner: str, artifact_id: str) -> bool:
        with self._lock:
            return owner in self._owners.get(artifact_id, ())
