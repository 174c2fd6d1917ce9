"""The executor the config's ``executor:`` section describes: durable runs, result cache,
failure, approval and worker policies.

>>> import tempfile
>>> from mmagent import Config
>>> from mmagent.artifacts import ArtifactStore
>>> from mmagent.toolkit import ToolRegistry
>>> cfg = Config.model_validate({"executor": {"checkpoint": False, "cache": False,
...                                            "max_concurrency": 3}})
>>> make_executor(cfg, ToolRegistry(), ArtifactStore(tempfile.mkdtemp())).max_concurrency
3
"""

from __future__ import annotations

from mmagent.artifacts._store import ArtifactStore
from mmagent.config._config import Config, TaskPolicyConfig, WorkerConfig
from mmagent.execution._approval import ApprovalPolicy
from mmagent.execution._executor import Executor, TaskPolicy
from mmagent.execution._workers import WorkerPolicy
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["make_executor"]


def make_executor(config: Config, registry: ToolRegistry, store: ArtifactStore, *,
                  use_cache: bool | None = None) -> Executor:
    """The executor ``executor:`` in the config describes (``use_cache`` overrides
    ``executor.cache``)."""
    ec = config.executor
    from mmagent.stores import make_result_cache, make_run_store

    runs = make_run_store(config) if ec.checkpoint else None
    cache_on = ec.cache if use_cache is None else use_cache
    cache = make_result_cache(config) if cache_on else None
    approval = ApprovalPolicy(tools=tuple(ec.approval.tools),
                              gpu_memory_gb=ec.approval.gpu_memory_gb) \
        if ec.approval.tools or ec.approval.gpu_memory_gb is not None else None
    return Executor(registry, store, max_concurrency=ec.max_concurrency, runs=runs, cache=cache,
                    policy=_policy(ec.policy), approval=approval,
                    tool_policies={n: _policy(p) for n, p in ec.tool_policies.items()},
                    workers=_worker(ec.workers),
                    tool_workers={n: _worker(w) for n, w in ec.tool_workers.items()})


def _worker(w: WorkerConfig) -> WorkerPolicy:
    return WorkerPolicy(max_batch_size=w.max_batch_size, max_wait_s=w.max_wait_s,
                        threads=w.threads)


def _policy(p: TaskPolicyConfig) -> TaskPolicy:
    return TaskPolicy(retries=p.retries, backoff_s=p.backoff_s, timeout_s=p.timeout_s)
