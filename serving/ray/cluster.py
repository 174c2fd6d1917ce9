"""``mmagent serve --ray``: start (or join) Ray, deploy, wait until ready, serve until stopped.

1. start a local Ray instance (or join ``serving.ray.address``);
2. build the application: what each deployment gets is reported, fitted to the cluster;
3. deploy it and wait until every deployment is healthy, reporting what Ray says while it
   waits, and give up after ``serving.ray.start_timeout_s`` with what was not ready;
4. serve until SIGINT or SIGTERM, then delete the application and stop the Ray instance it
   started, so no Ray process outlives the command.

>>> serve_ray(Config.load(None), host="127.0.0.1", port=8000)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from mmagent.config import Config
from mmagent.errors import ServingError
from mmagent.serving.ray.deployments import build_ray_app, start_ray

__all__ = ["serve_ray", "wait_until_ready"]

logger = logging.getLogger(__name__)
_MAX_REPORT = 400  # characters of a Ray status message shown per line


class _Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM; a BaseException so no handler eats it."""


def _stop_on_signals() -> None:
    def handler(signum: int, _frame: Any) -> None:
        raise _Stop(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _ignore_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def serve_ray(config: Config, *, host: str, port: int,
              echo: Callable[[str], None] = print) -> None:
    """Serve ``config``'s agent on Ray Serve at ``http://host:port`` until a signal stops it."""
    import ray
    from ray import serve

    settings = config.serving.ray
    owned = settings.address is None  # a local instance is ours to stop
    _stop_on_signals()
    try:
        start_ray(address=settings.address, temp_dir=settings.temp_dir,
                  num_cpus=settings.num_cpus)
        _stop_on_signals()  # ray.init installs its own SIGTERM handler
        app = build_ray_app(config, report=echo)  # refuses what cannot fit before Serve starts
        serve.start(http_options={"host": host, "port": port})
        serve._run(app, name=settings.app_name, route_prefix="/", _blocking=False)
        wait_until_ready(settings.app_name, settings.start_timeout_s, echo)
        echo(f"mmagent (Ray Serve) on http://{host}:{port}/v1  (Ctrl-C or SIGTERM stops)")
        while True:
            time.sleep(3600)
    except _Stop as e:
        echo(f"got {e}: stopping")
    finally:
        _ignore_signals()  # a second signal must not cut the clean-up short
        if ray.is_initialized():
            try:
                if owned:
                    serve.shutdown()
                else:  # a shared cluster: take only our application away
                    serve.delete(settings.app_name)
            except Exception:
                logger.warning("stopping Ray Serve failed", exc_info=True)
            finally:
                ray.shutdown()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait_until_ready(app_name: str, timeout_s: float, report: Callable[[str], None],
                     poll_s: float = 1.0) -> None:
    """Wait until the application runs; report each new message Ray gives about a deployment
    (e.g. replicas that cannot be scheduled); raise :class:`ServingError` if it fails or is
    not running after ``timeout_s``."""
    from ray import serve

    deadline = time.monotonic() + timeout_s
    said: dict[str, str] = {}
    while True:
        status = serve.status().applications.get(app_name)
        if status is not None:
            if status.status == "RUNNING":
                return
            if status.status == "DEPLOY_FAILED":
                raise ServingError(f"got DEPLOY_FAILED for application {app_name!r}: "
                                   f"{status.message[:_MAX_REPORT]}; expected it RUNNING")
            for name, d in status.deployments.items():
                if d.message and said.get(name) != d.message:
                    said[name] = d.message
                    state = getattr(d.status, "value", d.status)
                    report(f"{name}: {state}: {d.message[:_MAX_REPORT]}")
        if time.monotonic() > deadline:
            waiting = sorted(n for n, d in (status.deployments if status else {}).items()
                             if d.status != "HEALTHY")
            raise ServingError(f"got no running application after {timeout_s:g}s; not ready: "
                               f"{', '.join(waiting) or app_name}; expected every deployment "
                               "healthy (see the messages above; raise serving.ray."
                               "start_timeout_s, or lower the deployments' resources)")
        time.sleep(poll_s)
