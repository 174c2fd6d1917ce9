"""What ``mmagent serve`` does (the command itself is declared in ``mmagent/cli/_serve.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mmagent.config import Config
from mmagent.errors import ConfigError

__all__ = ["run_server"]


def run_server(*, host: str, port: int, use_ray: bool, emit_config: Path | None,
               config: Path | None, profile: str | None,
               echo: Callable[[str], None] = print) -> None:
    cfg = Config.load(config, profile=profile)
    if emit_config is not None:
        if not use_ray:
            raise ConfigError("got --emit-config without --ray; expected both (the file is a "
                              "Ray Serve config)")
        from mmagent.serving.ray.deployments import write_serve_config

        out = write_serve_config(cfg, emit_config, host=host, port=port,
                                 config_path=str(config) if config else None)
        echo(f"wrote {out}; deploy it with: serve deploy {out}")
        return
    if not use_ray:
        from mmagent.serving.server import serve_embedded

        echo(f"mmagent (embedded) on http://{host}:{port}/v1  (Ctrl-C stops)")
        serve_embedded(cfg, host=host, port=port)
        return
    from mmagent.serving.ray.cluster import serve_ray

    serve_ray(cfg, host=host, port=port, echo=echo)
