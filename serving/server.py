"""The embedded server: one process, FastAPI + uvicorn, tools in-process.

>>> from mmagent.serving import build_app          # doctest: +SKIP
>>> app = build_app()                              # doctest: +SKIP
"""

from __future__ import annotations

import socket
import threading
import time

from mmagent.agent import Agent
from mmagent.config import Config
from mmagent.serving.app import create_app

__all__ = ["build_app", "serve_embedded", "ServerThread", "free_port"]


def build_app(config: Config | str | None = None, *, agent: Agent | None = None, **agent_kw):
    """The FastAPI app of an :class:`Agent` (made from ``config`` unless given)."""
    agent = agent or Agent(config, **agent_kw)
    return create_app(agent)


def serve_embedded(config: Config | str | None = None, host: str = "127.0.0.1",
                   port: int = 8000, **agent_kw) -> None:
    import uvicorn

    uvicorn.run(build_app(config, **agent_kw), host=host, port=port, log_level="warning")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerThread:
    """Runs an ASGI app under uvicorn in a background thread (tests, benchmarks, notebooks).

    >>> with ServerThread(app) as server:          # doctest: +SKIP
    ...     print(server.base_url)
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None) -> None:
        import uvicorn

        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="mmagent-http", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.base_url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
