"""Ray Serve: one deployment per tool, one ingress holding router, planner, executor, responder.

Each tool runs in its own deployment (:class:`ToolDeployment`) with the resources, replicas,
autoscaling and dynamic batching (``@serve.batch``) that ``serving.ray`` in ``mmagent.yaml``
gives it. The ingress (:class:`Ingress`) serves the same HTTP API as the embedded server; its
agent's registry holds thin proxies whose ``run`` calls the tool deployments through
deployment handles, so the executor is the embedded one: tasks start as their inputs exist and
independent tasks call their deployments concurrently. Media still travels as artifact
references: with S3 artifacts (``stores.artifacts``) each replica reads and writes through the
bucket and keeps a cache in its own node's temp dir, so nodes share nothing but the bucket;
with the local backend, ``store_dir`` must be a directory every node sees (a shared
filesystem on a multi-node cluster).

>>> app = build_ray_app(Config.load())          # doctest: +SKIP
>>> serve.run(app, route_prefix="/")           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ray import serve
from ray.serve.handle import DeploymentHandle

from mmagent.agent import Agent
from mmagent.config import Config
from mmagent.errors import ConfigError, MMAgentError, ToolExecutionError
from mmagent.events import TaskRetrying
from mmagent.serving.ray.retries import error_from_dict, error_to_dict, is_transient, short_reason
from mmagent.stores import make_artifact_store
from mmagent.toolkit import Tool, ToolContext, ToolRegistry

__all__ = ["ToolDeployment", "Ingress", "build_ray_app", "app_builder", "serve_config",
           "remote_tool", "start_ray", "deployed_tools", "fit_cpus", "INGRESS_NAME"]

logger = logging.getLogger(__name__)
INGRESS_NAME = "ingress"
_ERROR = "__mmagent_error__"


def deployment_name(tool: str) -> str:
    return f"tool_{tool}"


@serve.deployment
class ToolDeployment:
    """One tool behind ``@serve.batch``: concurrent calls are gathered into one ``run``."""

    def __init__(self, tool_cls: type[Tool], settings: dict[str, Any],
                 store: dict[str, Any]) -> None:
        self.tool = tool_cls(**settings)
        self.store = make_artifact_store(on_this_node(Config.model_validate(store)))

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


def on_this_node(config: Config) -> Config:
    """``config`` for a replica on this node. With S3 artifacts, the store's local cache is in
    this node's temp dir (``$TMPDIR``; one per bucket and prefix): the path ``store_dir`` has on
    the machine that built the app may not exist on another node. Otherwise ``store_dir``
    stays, and every node must see it."""
    a = config.stores.artifacts
    if a.backend != "s3":
        return config
    where = hashlib.sha256(f"{a.endpoint_url}|{a.bucket}|{a.prefix}".encode()).hexdigest()
    return config.model_copy(update={"store_dir": Path(tempfile.gettempdir()) /
                                     "mmagent-artifacts" / where[:16]})


def _store_config(config: Config) -> dict[str, Any]:
    """What a tool replica needs to open the artifact store."""
    return {"cache_dir": str(config.cache_dir), "store_dir": str(config.artifact_dir),
            "limits": config.limits.model_dump(mode="json"),
            "stores": {"artifacts": config.stores.artifacts.model_dump(mode="json")}}


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
                  # calls go out concurrently (the deployment batches), not through a worker
                  "worker": False, "__module__": __name__})
    return proxy()


@serve.deployment(name=INGRESS_NAME)
@serve.ingress()
class Ingress:
    """The HTTP API (``create_app``) over an agent whose tools are deployment handles."""

    def __init__(self, config: dict[str, Any], tools: dict[str, tuple[type[Tool],
                 DeploymentHandle]], planner_backend: Any = None) -> None:
        from mmagent.serving.app import create_app

        cfg = on_this_node(Config.model_validate(config))
        registry = ToolRegistry()
        ray = cfg.serving.ray
        for cls, handle in tools.values():
            registry.add_instance(remote_tool(cls, handle, ray.retries, ray.retry_backoff_s))
        self.agent = Agent(cfg, registry=registry, planner_backend=planner_backend)
        self._app = create_app(self.agent)
        replica = serve.get_replica_context().replica_id.unique_id

        @self._app.middleware("http")
        async def _name_the_replica(request, call_next):
            """Which ingress replica answered: ``x-mmagent-replica`` (runs move between
            replicas; this tells an operator where a request was served)."""
            response = await call_next(request)
            response.headers["x-mmagent-replica"] = replica
            return response

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
                              "num_gpus": declared_gpus if s.num_gpus is None else s.num_gpus,
                              **({"resources": dict(s.resources)} if s.resources else {})},
        "max_ongoing_requests": s.ongoing(),
        "user_config": {"max_batch_size": s.max_batch_size,
                        "batch_wait_timeout_s": s.batch_wait_timeout_s},
    }
    if s.autoscaling is not None:
        opts["autoscaling_config"] = s.autoscaling.model_dump()
    else:
        opts["num_replicas"] = s.num_replicas
    return opts


def _ingress_options(config: Config) -> dict[str, Any]:
    ray = config.serving.ray
    return {"name": INGRESS_NAME, "num_replicas": ray.ingress_replicas,
            "ray_actor_options": {"num_cpus": ray.ingress_num_cpus}}


def _replicas(opts: dict[str, Any]) -> int:
    """Replicas a deployment starts with (an autoscaled one from zero still needs one)."""
    if "autoscaling_config" in opts:
        return max(int(opts["autoscaling_config"]["min_replicas"]), 1)
    return int(opts["num_replicas"])


def deployed_tools(config: Config, registry: ToolRegistry) -> list[str]:
    """The tools to deploy: ``serving.ray.deploy``, else every tool in ``registry``."""
    wanted = config.serving.ray.deploy
    if wanted is None:
        return registry.names()
    unknown = sorted(set(wanted) - set(registry.names()))
    if unknown:
        raise ConfigError(f"got {unknown} in serving.ray.deploy; expected tool names among "
                          f"{registry.names()}")
    return sorted(set(wanted))


def fit_cpus(config: Config, tools: dict[str, dict[str, Any]], ingress: dict[str, Any],
             cpus: float, gpus: float, report: Callable[[str], None] = logger.info) -> None:
    """Make every replica fit a cluster of ``cpus`` CPUs and ``gpus`` GPUs, in place.

    CPUs that tools declare (``Tool.resources``) are scaled down by one factor until the
    replicas fit; CPUs set in ``serving.ray`` (``ingress_num_cpus``, ``tools.<name>.num_cpus``)
    are kept, and GPU shares are never scaled (they stand for device memory). What cannot fit
    is a :class:`ConfigError` that names the settings to change, raised before anything is
    deployed: Ray would otherwise wait for the resources forever."""
    ray = config.serving.ray

    def asked(opts: dict[str, Any], key: str) -> float:
        return opts["ray_actor_options"][key] * _replicas(opts)

    need_gpus = sum(asked(o, "num_gpus") for o in tools.values())
    if need_gpus > gpus + 1e-9:
        users = ", ".join(f"{n} {asked(o, 'num_gpus'):g}" for n, o in tools.items()
                          if asked(o, "num_gpus"))
        raise ConfigError(f"got {need_gpus:g} GPUs asked by the tool deployments ({users}); "
                          f"the Ray cluster has {gpus:g}; expected at most {gpus:g}: lower "
                          "serving.ray.tools.<name>.num_gpus, deploy fewer tools "
                          "(serving.ray.deploy) or add GPU nodes")
    fixed = asked(ingress, "num_cpus") + sum(asked(o, "num_cpus") for n, o in tools.items()
                                              if ray.tool(n).num_cpus is not None)
    scalable = {n: o for n, o in tools.items() if ray.tool(n).num_cpus is None
                and o["ray_actor_options"]["num_cpus"] > 0}
    declared = sum(asked(o, "num_cpus") for o in scalable.values())
    if fixed + declared <= cpus + 1e-9:
        return
    least = 0.01 * sum(_replicas(o) for o in scalable.values())
    if not ray.fit_to_cluster or cpus - fixed < least:
        how = ("lower serving.ray.ingress_num_cpus and serving.ray.tools.<name>.num_cpus"
               if ray.fit_to_cluster else "turn on serving.ray.fit_to_cluster, set "
               "serving.ray.tools.<name>.num_cpus")
        raise ConfigError(f"got {fixed + declared:g} CPUs asked by {len(tools) + 1} "
                          f"deployments ({fixed:g} of them set in serving.ray); the Ray cluster "
                          f"has {cpus:g}; expected at most {cpus:g}: {how}, deploy fewer tools "
                          "(serving.ray.deploy) or add nodes")
    factor = (cpus - fixed) / declared
    for opts in scalable.values():
        res = opts["ray_actor_options"]
        res["num_cpus"] = max(0.01, math.floor(res["num_cpus"] * factor * 100) / 100)
    report(f"the Ray cluster has {cpus:g} CPUs and the deployments ask {fixed + declared:g}: "
           f"the CPUs tools declare are scaled by {factor:.3f} to fit "
           "(serving.ray.fit_to_cluster; set serving.ray.tools.<name>.num_cpus to choose)")


def _describe(opts: dict[str, Any]) -> str:
    res = opts["ray_actor_options"]
    if "autoscaling_config" in opts:
        a = opts["autoscaling_config"]
        count = f"{a['min_replicas']}-{a['max_replicas']} replicas (autoscaling)"
    else:
        count = f"{opts['num_replicas']} replica{'s' if opts['num_replicas'] != 1 else ''}"
    line = f"deploying {opts['name']}: {count}, {res['num_cpus']:g} CPU"
    line += f" + {res['num_gpus']:g} GPU each" if res.get("num_gpus") else " each"
    if "user_config" in opts:
        line += f", batches of up to {opts['user_config']['max_batch_size']}"
    return line


def _tool_settings(config: Config, name: str) -> dict[str, Any]:
    tc = config.tools.get(name)
    return {**(tc.kwargs() if tc else {}), "cache_dir": str(config.cache_dir)}


def build_ray_app(config: Config, registry: ToolRegistry | None = None,
                  planner_backend: Any = None, report: Callable[[str], None] = logger.info):
    """The Serve application: a deployment per tool in ``registry`` (default: the configured
    tools; ``serving.ray.deploy`` picks some) and the ingress bound to their handles. On a
    connected cluster, tools ask for their declared GPU share only if it has GPUs, and
    replicas are fitted to its CPUs (:func:`fit_cpus`). Each deployment is reported (logged)
    as ``deploying <name>: ...``."""
    import ray

    cluster = ray.cluster_resources() if ray.is_initialized() else None
    gpus = cluster is None or cluster.get("GPU", 0) > 0
    if not gpus:
        report("the Ray cluster has no GPUs: tool deployments run on CPUs")
    registry = registry or ToolRegistry.discover(
        {n: tc.kwargs() for n, tc in config.tools.items()}, cache_dir=config.cache_dir)
    config = config.model_copy(update={"store_dir": config.artifact_dir})
    options = {name: _deployment_options(config, name, registry.tool_class(name), gpus)
               for name in deployed_tools(config, registry)}
    ingress_opts = _ingress_options(config)
    if cluster is not None:
        fit_cpus(config, options, ingress_opts, cluster.get("CPU", 0.0),
                 cluster.get("GPU", 0.0), report)
    tools = {}
    for name, opts in options.items():
        cls = registry.tool_class(name)
        report(_describe(opts))
        tools[name] = (cls, ToolDeployment.options(**opts).bind(
            cls, _tool_settings(config, name), _store_config(config)))
    report(_describe(ingress_opts))
    ingress = Ingress.options(**{k: v for k, v in ingress_opts.items() if k != "name"},
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
    deployments = [_deployment_options(config, name, registry.tool_class(name))
                   for name in deployed_tools(config, registry)]
    deployments.append(_ingress_options(config))
    ray = config.serving.ray
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": host, "port": port},
        "applications": [{"name": ray.app_name, "route_prefix": "/",
                          "import_path": "mmagent.serving.ray.deployments:app_builder",
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
    """``ray.init`` as these machines need it: listeners on 127.0.0.1 for a local instance
    (and for a driver joining a cluster at a 127.0.0.1 address), its own temp dir, no
    dashboard, a small object store."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address is None or address.rsplit(":", 1)[0] in ("127.0.0.1", "localhost"):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # Ray reads the variable once, when it is imported (this module imports it): without
        # this, a local instance listens on the machine's external address, and a driver
        # looks for its node there.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = \
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"].lower() in ("1", "true")
    if address is None:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _temp_dir=temp_dir,
                 object_store_memory=200 * 2**20, runtime_env=runtime_env,
                 configure_logging=False, log_to_driver=False)
    else:
        ray.init(address=address, runtime_env=runtime_env, configure_logging=False,
                 log_to_driver=False)
