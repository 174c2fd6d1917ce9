"""The executor runs a validated plan as dataflow on LangGraph (it never plans): per-task
policies, approvals, the result cache and long-lived per-tool workers that batch calls;
:func:`make_executor` builds one from the config.

>>> from mmagent.execution import TaskPolicy
>>> TaskPolicy(retries=1).retries
1
"""

from mmagent.execution._approval import ApprovalPolicy, ApprovalRequest, Approve
from mmagent.execution._executor import ExecutionResult, Executor, TaskFailure, TaskPolicy
from mmagent.execution._from_config import make_executor
from mmagent.execution._result_cache import ResultCache
from mmagent.execution._workers import WorkerPolicy

__all__ = ["Executor", "ExecutionResult", "TaskFailure", "TaskPolicy", "ApprovalPolicy",
           "ApprovalRequest", "Approve", "ResultCache", "WorkerPolicy",
           "make_executor"]
