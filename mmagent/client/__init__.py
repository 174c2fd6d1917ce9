"""The remote SDK: :class:`Client` has the ``run`` and ``stream`` of :class:`mmagent.Agent`
over HTTP, and ``Client.runs`` the runs API."""

from mmagent.client._client import Client
from mmagent.client._runs import Runs

__all__ = ["Client", "Runs"]
