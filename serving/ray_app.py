"""Ray Serve: one deployment per tool, one ingress holding router, planner, executor, responder.

Each tool runs in its own deployment (:class:`ToolDeployment`) with the resources, replicas,
autoscaling and dynamic batching (``@serve.batch``) that ``serving.ray`` in ``mmagent.yaml``
gives it. The ingress (:class:`Ingress`) serves the same HTTP API as the embedded server; its
agent's registry holds thin proxies whose ``run`` calls the tool deployments through
deployment handles, so the executor is the embedded one: tasks start as their inputs exist and
independent tasks call their deployments concurrently. Media still travels as artifact
references: the artifact store (``store_dir``) must be a directory every node sees (a shared
filesystem on a multi-node cluster).

>>> app = build_ray_app(Config.load())          # doctest: +SKIP
>>> serve.run(app, route_prefix="/")           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import yaml
from ray import serve
from ray.serve.handle import DeploymentHandle

from mmagent.agent import Agent
from mmagent.artifacts import ArtifactStore, MediaLimits
from mmagent.config import Config
from mmagent.errors import MMAgentError, ToolExecutionError
from mmagent.events import TaskRetrying
from mmagent.registry import ToolRegistry
from mmagent.tool import Tool, ToolContext

from .ray_errors import error_from_dict, error_to_dict, is_transient, short_reason

__all__ = ["ToolDeployment", "Ingress", "build_ray_app", "app_builder", "serve_config",
           "remote_tool", "start_ray", "INGRESS_NAME"]

logger = logging.getLogger(__name__)
INGRESS_NAME = "ingress"
_ERROR = "__mmagent_error__"


def deployment_name(tool: str) -> str:
    return f"tool_{tool}"


@serve.deployment
class ToolDeployment:
    """One tool behind ``@serve.batch``: concurrent calls are gathered into one ``run``."""

    def __init__(self, tool_cls: type[Tool], settings: dict[str, Any], store_dir: str,
                 limits: dict[str, Any]) -> None:
        self.tool = tool_cls(**settings)
        self.store = ArtifactStore(store_dir, MediaLimits(**limits))

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``user_config`` carries the batching settings, so they change without a restart."""
        self.__call__.set_max_batch_size(int(user_config.get("max_batch_size", 8)))
        self.__call__.set_batch_wait_timeout_s(float(user_config.get("batch_wait_timeout_s",
                                                                     0.01)))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def __call__(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._run_batch, requests)

    def _run_batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(requests)
        parsed = []
        for i, args in enumerate(requests):  # one bad input fails only its own request
            try:
                parsed.append((i, self.tool.parse_input(args)))
            except MMAgentError as e:
                results[i] = _error(e)
        if parsed:
            try:
                self.tool.ensure_loaded()
                outs = self.tool.run([p for _, p in parsed], ToolContext(self.store))
                for (i, _), out in zip(parsed, outs, strict=True):
                    results[i] = out.model_dump(mode="json")
            except Exception as e:
                logger.warning("tool %s failed on a batch of %d", self.tool.name, len(parsed),
                               exc_info=not isinstance(e, MMAgentError))
                for i, _ in parsed:
                    results[i] = _error(e)
        return results  # type: ignore[return-value]


def _error(e: Exception) -> dict[str, Any]:
    return {_ERROR: error_to_dict(e)}


def remote_tool(tool_cls: type[Tool], handle: DeploymentHandle, retries: int = 3,
                backoff_s: float = 0.5) -> Tool:
    """A stand-in for ``tool_cls`` (same name, card, Input and Output) whose ``run`` calls the
    tool's deployment. Called from the executor's worker threads, never the event loop.

    A call whose replica died (or that Ray could not deliver) is sent again, up to ``retries``
    times with exponential backoff from ``backoff_s``; each resend is a ``task_retrying`` event.
    An error of the tool itself comes back as the same mmagent error class and is not resent."""

    def __init__(self) -> None:
        Tool.__init__(self)
        self._handle = handle
        self._loaded = True

    def call(self, payload: dict[str, Any], first, ctx: ToolContext) -> Any:
        for attempt in range(1, retries + 2):
            try:
                data = (first if attempt == 1 else self._handle.remote(payload)).result()
                break
            except Exception as e:
                if not is_transient(e):
                    raise ToolExecutionError(f"deployment {deployment_name(tool_cls.name)} "
                                             f"failed: {short_reason(e)}") from e
                if attempt > retries:
                    raise ToolExecutionError(
                        f"got no answer from deployment {deployment_name(tool_cls.name)} in "
                        f"{attempt} attempts ({short_reason(e)}); expected a live replica "
                        "(raise serving.ray.retries, or see `serve status`)") from e
                delay = min(backoff_s * 2 ** (attempt - 1), 10.0)
                logger.warning("tool %s: %s; sending the call again in %.1fs (attempt %d of %d)",
                               tool_cls.name, short_reason(e), delay, attempt + 1, retries + 1)
                ctx.emit(TaskRetrying(task_id=ctx.task_id or "", tool=tool_cls.name,
                                      attempt=attempt, error=short_reason(e), delay_s=delay))
                time.sleep(delay)
        if _ERROR in data:
            raise error_from_dict(data[_ERROR])
        return tool_cls.Output.model_validate(data)

    def run(self, inputs, ctx):
        payloads = [i.model_dump(mode="json") for i in inputs]
        futures = [self._handle.remote(p) for p in payloads]
        return [self._call(p, f, ctx) for p, f in zip(payloads, futures, strict=True)]

    proxy = type(f"Remote{tool_cls.__name__}", (tool_cls,),
                 {"__init__": __init__, "run": run, "_call": call, "load": lambda self: None,
                  "__module__": __name__})
    return proxy()


@serve.deployment(name=INGRESS_NAME)
@serve.ingress()
class Ingress:
    """The HTTP API (``create_app``) over an agent whose tools are deployment handles."""

    def __init__(self, config: dict[str, Any], tools: dict[str, tuple[type[Tool],
                 DeploymentHandle]], planner_backend: Any = None) -> None:
        from .app import create_app
        from .service import ChatService

        cfg = Config.model_validate(config)
        registry = ToolRegistry()
        ray = cfg.serving.ray
        for cls, handle in tools.values():
            registry.add_instance(remote_tool(cls, handle, ray.retries, ray.retry_backoff_s))
        self.agent = Agent(cfg, registry=registry, planner_backend=planner_backend)
        self._app = create_app(ChatService(self.agent))

    def __serve_build_asgi_app__(self):
        return self._app


def _deployment_options(config: Config, name: str, tool_cls: type[Tool],
                        gpus: bool = True) -> dict[str, Any]:
    """Deployment options; a tool configured for ``device: cpu`` (or any tool, with
    ``gpus=False``: a cluster without GPUs) asks for no GPU unless ``num_gpus`` is set."""
    s = config.serving.ray.tool(name)
    res = tool_cls.resources
    tc = config.tools.get(name)
    declared_gpus = res.num_gpus if gpus and not (tc and tc.device == "cpu") else 0.0
    opts: dict[str, Any] = {
        "name": deployment_name(name),
        "ray_actor_options": {"num_cpus": res.num_cpus if s.num_cpus is None else s.num_cpus,
                              "num_gpus": declared_gpus if s.num_gpus is None else s.num_gpus},
        "max_ongoing_requests": s.ongoing(),
        "user_config": {"max_batch_size": s.max_batch_size,
                        "batch_wait_timeout_s": s.batch_wait_timeout_s},
    }
    if s.autoscaling is not None:
        opts["autoscaling_config"] = s.autoscaling.model_dump()
    else:
        opts["num_replicas"] = s.num_replicas
    return opts


def _tool_settings(config: Config, name: str) -> dict[str, Any]:
    tc = config.tools.get(name)
    return {**(tc.kwargs() if tc else {}), "cache_dir": str(config.cache_dir)}


def build_ray_app(config: Config, registry: ToolRegistry | None = None,
                  planner_backend: Any = None):
    """The Serve application: a deployment per tool in ``registry`` (default: the configured
    tools) and the ingress bound to their handles. Tools ask for their declared GPU share only
    if the connected cluster has GPUs."""
    import ray

    gpus = not ray.is_initialized() or ray.cluster_resources().get("GPU", 0) > 0
    if not gpus:
        logger.warning("the Ray cluster has no GPUs: tool deployments run on CPUs")
    registry = registry or ToolRegistry.discover(
        {n: tc.kwargs() for n, tc in config.tools.items()}, cache_dir=config.cache_dir)
    config = config.model_copy(update={"store_dir": config.artifact_dir})
    limits = config.limits.model_dump()
    tools = {}
    for name in registry.names():
        cls = registry.tool_class(name)
        dep = ToolDeployment.options(**_deployment_options(config, name, cls, gpus))
        tools[name] = (cls, dep.bind(cls, _tool_settings(config, name),
                                     str(config.artifact_dir), limits))
    ray = config.serving.ray
    ingress = Ingress.options(num_replicas=ray.ingress_replicas,
                              ray_actor_options={"num_cpus": ray.ingress_num_cpus},
                              max_ongoing_requests=64)
    return ingress.bind(config.model_dump(mode="json"), tools, planner_backend)


def app_builder(args: dict[str, Any]):
    """For ``serve run`` / ``serve deploy``: ``args`` is ``{"config": <path or mapping>}``."""
    raw = args.get("config")
    config = Config.from_dict(raw, where="serve config args") if isinstance(raw, dict) else \
        Config.load(raw)
    return build_ray_app(config)


def serve_config(config: Config, host: str = "127.0.0.1", port: int = 8000,
                 config_path: str | None = None) -> dict[str, Any]:
    """The Ray Serve config file (``serve deploy FILE``) for ``config``'s deployments."""
    registry = ToolRegistry.discover({n: tc.kwargs() for n, tc in config.tools.items()},
                                     cache_dir=config.cache_dir)
    if config_path is not None:
        args: dict[str, Any] = {"config": str(Path(config_path).resolve())}
    else:  # inline, without keys: the deployed server reads them from the environment
        inline = config.model_dump(mode="json", exclude_none=True)
        inline["serving"].pop("api_keys", None)
        args = {"config": inline}
    deployments = []
    for name in registry.names():
        opts = _deployment_options(config, name, registry.tool_class(name))
        deployments.append(opts)
    ray = config.serving.ray
    deployments.append({"name": INGRESS_NAME, "num_replicas": ray.ingress_replicas,
                        "ray_actor_options": {"num_cpus": ray.ingress_num_cpus}})
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": host, "port": port},
        "applications": [{"name": ray.app_name, "route_prefix": "/",
                          "import_path": "mmagent.serving.ray_app:app_builder",
                          "args": args, "deployments": deployments}],
    }


def write_serve_config(config: Config, path: str | os.PathLike[str], **kw: Any) -> Path:
    out = Path(path)
    out.write_text("# Ray Serve config written by `mmagent serve --ray --emit-config`.\n"
                   "# Deploy with: serve deploy " + out.name + "  (against a running cluster)\n"
                   + yaml.safe_dump(serve_config(config, **kw), sort_keys=False))
    return out


def start_ray(address: str | None = None, temp_dir: str | None = None,
              num_cpus: int | None = None, runtime_env: dict[str, Any] | None = None) -> None:
    """``ray.init`` as these machines need it: listeners on 127.0.0.1 for a local instance,
    its own temp dir, no dashboard, a small object store."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address is None:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray.init(num_cpus=num_cpus, include_dashboard=False, _temp_dir=temp_dir,
                 object_store_memory=200 * 2**20, runtime_env=runtime_env,
                 configure_logging=False, log_to_driver=False)
    else:
        ray.init(address=address, runtime_env=runtime_env)
