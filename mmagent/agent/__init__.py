"""The SDK entry point: :class:`Agent` routes, plans, runs and answers a request; its result is
a :class:`RunResult`.

>>> from mmagent.agent import Agent, RunResult
>>> sorted(RunResult.model_fields)[:3]
['answer', 'artifacts', 'cached']
"""

from mmagent.agent._agent import Agent, make_backend
from mmagent.agent._ingest import MediaInput
from mmagent.agent._result import ProducedArtifact, RunResult

__all__ = ["Agent", "RunResult", "ProducedArtifact", "MediaInput", "make_backend"]
