"""The SDK entry point: :class:`Agent` routes, plans, runs and answers a request; its result is
a :class:`RunResult`.

>>> from mmagent.agent import Agent, RunResult
>>> sorted(RunResult.model_fields)[:3]
['answer', 'artifacts', 'cached']
"""

from mmagent.agent._agent import Agent, MediaInput, ProducedArtifact, RunResult, make_backend
from mmagent.agent._control import Approve, make_executor

__all__ = ["Agent", "RunResult", "ProducedArtifact", "MediaInput", "Approve", "make_backend",
           "make_executor"]
