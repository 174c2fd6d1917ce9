"""The plan IR (one representation for LLM plans and YAML workflows) and its validator.

>>> from mmagent.plan import Plan
>>> Plan.model_validate({"tasks": [{"id": "t1", "tool": "image_caption",
...                                 "args": {"image": "$input.image0"}}]}).tasks[0].tool
'image_caption'
"""

from mmagent.plan._ir import TASK_ID_PATTERN, Plan, Ref, ResultKind, Task, iter_refs, parse_ref
from mmagent.plan._validator import MEDIA_TYPES, check_size, collect_errors, validate

__all__ = ["Plan", "Task", "Ref", "ResultKind", "parse_ref", "iter_refs", "TASK_ID_PATTERN",
           "validate", "collect_errors", "check_size", "MEDIA_TYPES"]
