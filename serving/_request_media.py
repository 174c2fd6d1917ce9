"""Media in requests: data URLs, links to uploaded artifacts, and (allow-listed) remote URLs.

Remote fetching is off unless the URL's host is in ``serving.fetch_allow_hosts``, and even then
a URL whose host resolves to a loopback, private, link-local or otherwise non-public address is
refused. Every redirect hop is resolved and checked again, and the address actually connected
to is checked once more (so a DNS answer that changes between the check and the connection
does not get through).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from mmagent.artifacts import FORMATS, ArtifactKind, ArtifactRef, ArtifactStore, kind_phrase, sniff
from mmagent.config import ServingSettings
from mmagent.errors import InputError, InputNotFoundError, InvalidMediaError, WrongKindError
from mmagent.serving._auth import Owners
from mmagent.serving._http_errors import URLRefusedError
from mmagent.serving._protocol import MEDIA_KINDS

__all__ = ["MediaResolver", "is_public_address", "ARTIFACT_PATH_RE"]

logger = logging.getLogger(__name__)
ARTIFACT_PATH_RE = re.compile(r"/v1/(?:artifacts|files)/([0-9a-f]{64})(?:/content)?/?$")
_DATA_RE = re.compile(r"^data:([\w.+/-]*)((?:;[\w-]+=[^;,]*)*)(;base64)?,(.*)$", re.DOTALL)


def is_public_address(ip: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 is unwrapped)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not (addr.is_loopback or addr.is_private or addr.is_link_local
                                   or addr.is_multicast or addr.is_reserved
                                   or addr.is_unspecified)


class MediaResolver:
    """Turns the URL of one content part into an artifact in the store, owned by ``owner``."""

    def __init__(self, store: ArtifactStore, owners: Owners, settings: ServingSettings) -> None:
        self.store = store
        self.owners = owners
        self.settings = settings

    def from_url(self, url: str, kind: ArtifactKind, owner: str, own_hosts: set[str]
                 ) -> ArtifactRef:
        """``url`` is a data URL, ``artifact://<id>``, a link to ``/v1/artifacts/<id>`` on this
        server (``own_hosts``: the host names it answers to), or an allow-listed http(s) URL."""
        if url.startswith("data:"):
            return self._own(self.store.put_bytes(decode_data_url(url), kind,
                                                  source="a data URL"), owner)
        if url.startswith("artifact://"):
            return self.artifact(url.removeprefix("artifact://"), kind, owner)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"got {_short(url)!r} as the URL of {kind_phrase(kind)}; expected "
                             "a data: URL, an artifact link or an http(s) URL")
        m = ARTIFACT_PATH_RE.search(parts.path)
        if m and parts.netloc.lower() in own_hosts:
            return self.artifact(m.group(1), kind, owner)
        return self._own(self.store.put_bytes(self.fetch(url), kind, source=_short(url)), owner)

    def from_base64(self, data: str, kind: ArtifactKind, owner: str, what: str) -> ArtifactRef:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"got {what} that is not valid base64; expected base64-encoded "
                             f"{kind} bytes") from None
        return self._own(self.store.put_bytes(raw, kind, source=what), owner)

    def from_bytes(self, data: bytes, mime: str | None, owner: str, source: str
                   ) -> ArtifactRef:
        """``data`` stored as the kind its ``mime`` names, else as the kind its header tells
        (``source`` names it in the error if it is no media the store reads)."""
        major = (mime or "").split("/", 1)[0]
        kind = next((k for k in MEDIA_KINDS if k == major), None)
        if kind is None:
            told = sniff(data)
            kind = told[0] if told else None
        if kind is None:
            raise InvalidMediaError(
                f"got a file of {len(data)} bytes ({source}) that is not a readable image, "
                f"audio file or video; expected media ({FORMATS['image']}; "
                f"{FORMATS['audio']}; {FORMATS['video']})", source=source)
        return self._own(self.store.put_bytes(data, kind, source=source), owner)

    def artifact(self, artifact_id: str, kind: ArtifactKind | None, owner: str) -> ArtifactRef:
        """An artifact ``owner`` may read; others get the same error as a missing one."""
        if not self.owners.owns(owner, artifact_id):
            raise InputNotFoundError(f"got artifact id {artifact_id!r}; expected the id of an "
                                     "artifact created with this API key", artifact=artifact_id)
        ref = self.store.get(artifact_id)
        if kind is not None and ref.kind != kind:
            raise WrongKindError(f"got artifact {artifact_id}, {kind_phrase(ref.kind)} "
                                 f"({ref.mime}); expected {kind_phrase(kind)}",
                                 artifact=artifact_id)
        return ref

    def _own(self, ref: ArtifactRef, owner: str) -> ArtifactRef:
        self.owners.add(owner, ref.id)
        return ref

    # -- remote fetching -----------------------------------------------------------------------

    def fetch(self, url: str) -> bytes:
        """GET an allow-listed public URL, checking every redirect hop; bytes capped by
        ``limits.max_bytes``."""
        limit = self.store.limits.max_bytes
        with httpx.Client(follow_redirects=False, timeout=self.settings.fetch_timeout_s,
                          trust_env=False) as client:
            for _hop in range(self.settings.fetch_max_redirects + 1):
                self._check_url(url)
                with client.stream("GET", url) as resp:
                    self._check_peer(resp, url)
                    if resp.is_redirect and "location" in resp.headers:
                        url = urljoin(url, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise InputError(f"fetching {_short(url)} gave HTTP {resp.status_code}; "
                                         "expected 200")
                    data = bytearray()
                    for chunk in resp.iter_bytes():
                        data += chunk
                        if len(data) > limit:
                            from mmagent.errors import MediaLimitError

                            raise MediaLimitError(f"{_short(url)} is larger than {limit} bytes "
                                                  "(limits.max_bytes)")
                    return bytes(data)
        raise URLRefusedError(f"{_short(url)} redirected more than "
                              f"{self.settings.fetch_max_redirects} times "
                              "(serving.fetch_max_redirects)")

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise URLRefusedError(f"got {_short(url)!r}; expected an http(s) URL")
        if not _allowed(host, self.settings.fetch_allow_hosts):
            raise URLRefusedError(f"got a URL on host {host!r}, which this server does not "
                                  "fetch from (serving.fetch_allow_hosts); expected an upload "
                                  "(/v1/files) or a data URL")
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else
                                                           80), type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise InputError(f"could not resolve host {host!r} of {_short(url)}: {e}") from None
        for info in infos:
            ip = str(info[4][0])
            if not is_public_address(ip):
                raise URLRefusedError(f"host {host!r} resolves to {ip}, a non-public address; "
                                      "expected a public address")

    def _check_peer(self, resp: httpx.Response, url: str) -> None:
        stream = resp.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer and not is_public_address(str(peer[0])):
            raise URLRefusedError(f"{_short(url)} connected to {peer[0]}, a non-public address; "
                                  "expected a public address")


def decode_data_url(url: str) -> bytes:
    m = _DATA_RE.match(url)
    if not m:
        raise InputError(f"got a malformed data URL ({_short(url)!r}); expected "
                         "data:<mime>;base64,<data>")
    if not m.group(3):
        raise InputError("got a data URL without ';base64'; expected base64-encoded media")
    try:
        return base64.b64decode(m.group(4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("got a data URL whose payload is not valid base64") from None


def _allowed(host: str, allow: list[str]) -> bool:
    for pattern in allow:
        p = pattern.lower()
        if host == p or (p.startswith("*.") and host.endswith(p[1:])):
            return True
    return False


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."
