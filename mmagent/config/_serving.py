"""The ``serving:`` section of ``mmagent.yaml``: HTTP limits, API keys and Ray Serve settings.

Only pydantic here, so :mod:`mmagent.config` can import it without pulling in FastAPI or Ray.

>>> s = ServingSettings.model_validate({"ray": {"tools": {"image_caption": {"num_gpus": 0.5}}}})
>>> s.ray.tool("image_caption").num_gpus, s.ray.tool("text_to_speech").max_batch_size
(0.5, 8)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ServingSettings", "RunsSettings", "RaySettings", "ToolDeploymentSettings",
           "AutoscalingSettings"]


class AutoscalingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_replicas: int = Field(1, ge=0, description="fewest replicas kept running")
    max_replicas: int = Field(1, ge=1, description="most replicas started under load")
    target_ongoing_requests: float = Field(2.0, gt=0, description="requests per replica the "
                                           "autoscaler aims for")

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSettings:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"got max_replicas={self.max_replicas} < min_replicas="
                             f"{self.min_replicas}; expected max_replicas >= min_replicas")
        return self


class ToolDeploymentSettings(BaseModel):
    """One tool's Ray Serve deployment. Unset resources come from the tool's ``resources``."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float | None = Field(None, ge=0, description="CPU cores per replica; None = the "
                                   "tool's declared resources")
    num_gpus: float | None = Field(None, ge=0, description="GPU fraction per replica; None = the "
                                   "tool's declared resources")
    resources: dict[str, float] = Field(default_factory=dict, description="custom Ray "
                                        "resources per replica, e.g. {node_a: 0.01} to place "
                                        "the tool on nodes started with --resources")
    num_replicas: int = Field(1, ge=1, description="fixed replica count (without autoscaling)")
    autoscaling: AutoscalingSettings | None = Field(None, description="replaces num_replicas")
    max_batch_size: int = Field(8, ge=1, description="dynamic batching: most requests per batch")
    batch_wait_timeout_s: float = Field(0.01, ge=0, description="dynamic batching: how long a "
                                        "partial batch waits for more requests")
    max_ongoing_requests: int | None = Field(None, ge=1, description="per replica; None = "
                                             "max(2 * max_batch_size, 8) (it caps the batch size)")

    @model_validator(mode="after")
    def _batch_fits(self) -> ToolDeploymentSettings:
        if self.max_ongoing_requests is not None and self.max_ongoing_requests < \
                self.max_batch_size:
            raise ValueError(f"got max_ongoing_requests={self.max_ongoing_requests} < "
                             f"max_batch_size={self.max_batch_size}; expected at least the batch "
                             "size (Ray never sends a replica more than max_ongoing_requests)")
        return self

    def ongoing(self) -> int:
        return self.max_ongoing_requests or max(2 * self.max_batch_size, 8)


class RaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(None, description="cluster to join, e.g. 'auto' or "
                                "'ray://head:10001'; None = start a local Ray instance")
    app_name: str = Field("mmagent", description="Ray Serve application name")
    ingress_num_cpus: float = Field(0.5, ge=0, description="CPU cores of the ingress replica")
    ingress_replicas: int = Field(1, ge=1, description="ingress replicas")
    deploy: list[str] | None = Field(None, description="tools to deploy; None = every "
                                     "registered tool")
    fit_to_cluster: bool = Field(True, description="scale the CPUs that tools declare down "
                                 "until every replica fits the cluster's CPUs (turn off on an "
                                 "autoscaling cluster, which grows instead)")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance; "
                                   "None = every core of the machine")
    temp_dir: str | None = Field(None, description="temp dir of a local Ray instance (its "
                                 "sockets and logs); None = Ray's default /tmp/ray")
    start_timeout_s: float = Field(300.0, gt=0, description="`mmagent serve --ray` gives up "
                                   "and stops if the application is not ready by then")
    retries: int = Field(3, ge=0, le=10, description="times the ingress sends a tool call again "
                         "when its replica died or Ray could not reach it (never on a tool's "
                         "own error)")
    retry_backoff_s: float = Field(0.5, ge=0, le=30, description="wait before the first resend; "
                                   "doubles each time (at most 10 s)")
    defaults: ToolDeploymentSettings = Field(default_factory=ToolDeploymentSettings,
                                             description="settings of tools not listed in tools")
    tools: dict[str, ToolDeploymentSettings] = Field(default_factory=dict,
                                                     description="per-tool deployment settings")

    def tool(self, name: str) -> ToolDeploymentSettings:
        return self.tools.get(name, self.defaults)


class RunsSettings(BaseModel):
    """The runs API (``/v1/runs``): how many runs of one API key run at once."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_per_key: int = Field(2, ge=1, le=1000, description="runs of one API key "
                                        "running at once (per deployment); more wait queued")
    max_listed: int = Field(100, ge=1, le=10_000, description="most runs GET /v1/runs returns")
    lease_s: float = Field(30.0, ge=1, le=3600, description="a running run whose server "
                           "instance stopped reporting for this long (it died) is queued again "
                           "and resumed from its checkpoints")


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_keys: list[str] = Field(default_factory=list, description="accepted API keys; prefer "
                                "api_keys_env")
    api_keys_env: str = Field("MMAGENT_API_KEYS", description="variable holding comma-separated "
                              "API keys (added to api_keys)")
    auth: bool = Field(True, description="require an API key (turn off only on a trusted host)")
    max_body_bytes: int = Field(32 * 2**20, gt=0, description="largest accepted request body")
    fetch_allow_hosts: list[str] = Field(default_factory=list, description="hosts whose http(s) "
                                         "image/audio URLs the server may fetch; empty = none. "
                                         "Loopback, private and link-local addresses are refused "
                                         "whatever this says")
    fetch_timeout_s: float = Field(10.0, gt=0, description="timeout of one remote fetch")
    fetch_max_redirects: int = Field(3, ge=0, le=10, description="redirects followed per fetch")
    allowed_roots: list[Path] = Field(default_factory=list, description="folders whose files "
                                      "a remote caller may name in a server-path argument "
                                      "(image_search's folder); empty = none: over HTTP and "
                                      "MCP over HTTP such arguments are refused")
    max_header_bytes: int = Field(64 * 2**10, gt=0, description="largest accepted request "
                                  "headers (all of them, names and values); larger get 431")
    public_url: str | None = Field(None, description="base URL used in artifact links; None = "
                                   "the URL the request came in on")
    runs: RunsSettings = Field(default_factory=RunsSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
