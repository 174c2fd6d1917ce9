"""The run model: the durable record the executor keeps of every run (journal), the runs API's
queue of asynchronous runs, and their wire shapes (shared by the server and :class:`Client`)."""

from mmagent.runs._journal import RunRecord, RunStore
from mmagent.runs._protocol import RunApprove, RunCreate, RunInfo, RunList
from mmagent.runs._queue import QueuedRun, RunQueue
from mmagent.runs._status import FINAL, FINISHED, STOPPED, RunStatus

__all__ = ["RunStore", "RunRecord", "RunQueue", "QueuedRun", "RunCreate", "RunApprove",
           "RunInfo", "RunList", "RunStatus", "FINISHED", "FINAL", "STOPPED"]
