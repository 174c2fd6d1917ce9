"""Remote media URLs: only allow-listed hosts, never non-public addresses, every hop checked."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from mmagent.artifacts import ArtifactStore
from mmagent.config import ServingSettings
from mmagent.serving import _request_media as media
from mmagent.serving._auth import Owners
from mmagent.serving._http_errors import URLRefusedError


@pytest.mark.parametrize("ip,public", [("8.8.8.8", True), ("127.0.0.1", False),
                                       ("10.1.2.3", False), ("192.168.0.1", False),
                                       ("169.254.169.254", False), ("::1", False),
                                       ("::ffff:127.0.0.1", False), ("fe80::1", False),
                                       ("0.0.0.0", False), ("2606:4700::1111", True)])
def test_public_addresses(ip, public):
    assert media.is_public_address(ip) is public


def resolver(tmp_path, allow):
    return media.MediaResolver(ArtifactStore(tmp_path / "s"), Owners(None),
                               ServingSettings(fetch_allow_hosts=allow))


def test_hosts_not_allow_listed_are_not_fetched(tmp_path):
    with pytest.raises(URLRefusedError, match="fetch_allow_hosts"):
        resolver(tmp_path, []).fetch("https://example.com/cat.png")


def test_a_redirect_to_a_private_address_is_refused(tmp_path, monkeypatch):
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.7/secret.png")
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    real = media.is_public_address
    # pretend this one loopback server is a public host, so the first hop is fetched
    monkeypatch.setattr(media, "is_public_address", lambda ip: ip == "127.0.0.1" or real(ip))
    try:
        r = resolver(tmp_path, ["127.0.0.1", "10.0.0.7"])
        with pytest.raises(URLRefusedError, match="10.0.0.7, a non-public address"):
            r.fetch(f"http://127.0.0.1:{httpd.server_port}/cat.png")
    finally:
        httpd.shutdown()
