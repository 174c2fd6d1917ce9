"""Fitting Ray deployments to the cluster (no Ray needed: the cluster's size is given)."""

import pytest

from mmagent import Config
from mmagent.errors import ConfigError
from mmagent.serving.ray.deployments import _deployment_options, _ingress_options, fit_cpus
from mmagent.toolkit import ToolRegistry


def _options(cfg: Config, gpus: bool):
    reg = ToolRegistry.discover()
    tools = {n: _deployment_options(cfg, n, reg.tool_class(n), gpus) for n in reg.names()}
    return tools, _ingress_options(cfg)


def test_the_default_deployments_fit_two_cpus_by_scaling_what_tools_declare():
    cfg = Config.load(None)
    tools, ingress = _options(cfg, gpus=False)
    assert len(tools) >= 15 and sum(o["ray_actor_options"]["num_cpus"] for o in tools.values())\
        > 2
    said = []
    fit_cpus(cfg, tools, ingress, cpus=2, gpus=0, report=said.append)
    cpus = [o["ray_actor_options"]["num_cpus"] for o in tools.values()]
    assert all(c > 0 for c in cpus) and sum(cpus) + ingress["ray_actor_options"]["num_cpus"] <= 2
    assert ingress["ray_actor_options"]["num_cpus"] == 0.5  # set in config: kept
    assert len(said) == 1 and "scaled by" in said[0]


def test_gpu_shares_are_never_scaled_and_an_overflow_names_the_setting():
    cfg = Config.load(None)
    tools, ingress = _options(cfg, gpus=True)
    asked = sum(o["ray_actor_options"]["num_gpus"] for o in tools.values())
    assert asked > 1
    with pytest.raises(ConfigError, match=r"the Ray cluster has 1; expected at most 1: lower "
                       r"serving\.ray\.tools\.<name>\.num_gpus"):
        fit_cpus(cfg, tools, ingress, cpus=64, gpus=1)


def test_with_fitting_off_too_many_cpus_fail_at_once():
    cfg = Config.from_dict({"serving": {"ray": {"fit_to_cluster": False}}})
    tools, ingress = _options(cfg, gpus=False)
    with pytest.raises(ConfigError, match="turn on serving.ray.fit_to_cluster"):
        fit_cpus(cfg, tools, ingress, cpus=2, gpus=0)
