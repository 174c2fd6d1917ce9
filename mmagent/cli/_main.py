"""The ``mmagent`` command line: the typer app, its commands in order, and :func:`main`.

Exit codes: 0 success; 2 bad input or config; 3 no valid plan; 4 a task failed; 1 anything
else. Errors print one line, ``error[<code>]: <message>``, with no traceback
(``MMAGENT_DEBUG=1`` shows it).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import typer

from mmagent._messages import one_line
from mmagent.cli._display import err
from mmagent.cli._eval import eval_taskbench
from mmagent.cli._run import learn, resume, run
from mmagent.cli._serve import mcp, serve
from mmagent.cli._tools import tools
from mmagent.cli._workflow import workflow_list, workflow_run, workflow_schema, workflow_validate
from mmagent.errors import InputError, MMAgentError, PlanningError, ToolError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="mmagent: an LLM schedules multimodal work on model tools.")
for _command in (run, learn, resume, tools, serve, mcp):  # `mmagent --help` keeps this order
    app.command()(_command)

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate the planner on benchmarks.")
eval_app.command("taskbench")(eval_taskbench)
app.add_typer(eval_app, name="eval")

workflow_app = typer.Typer(no_args_is_help=True, help="YAML workflows (graphs/): validate, run, "
                           "list, schema.")
workflow_app.command("validate")(workflow_validate)
workflow_app.command("run")(workflow_run)
workflow_app.command("list")(workflow_list)
workflow_app.command("schema")(workflow_schema)
app.add_typer(workflow_app, name="workflow")


def _exit_code(e: MMAgentError) -> int:
    if isinstance(e, ToolError) and not isinstance(e, InputError):
        return 4
    if isinstance(e, PlanningError):
        return 3
    return 2


def _quiet_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # e.g. transformers' GGUF conversion bar
    # set before torch loads: spinning OpenMP threads stall each other on small machines
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if not os.environ.get("MMAGENT_DEBUG"):  # e.g. torch's FutureWarnings: errors stay one line
        warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING if os.environ.get("MMAGENT_DEBUG") else
                        logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    _quiet_libraries()
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except MMAgentError as e:
        if os.environ.get("MMAGENT_DEBUG"):
            raise
        err.print(f"error[{e.code}]: {one_line(e.message)}", markup=False, soft_wrap=True)
        sys.exit(_exit_code(e))
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # click usage errors and the unexpected: still one line
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("MMAGENT_DEBUG"):
            raise
        err.print(f"error[internal]: {type(e).__name__}: {one_line(str(e))} (set "
                  "MMAGENT_DEBUG=1 for the traceback)", markup=False, soft_wrap=True)
        sys.exit(1)

