"""Usage mistakes print a usage line and exit 2 (never error[internal]); Ctrl-C during a run
prints one line with how to resume, no tracebacks, exit 130."""

import threading

import pytest

from mmagent.events import RunStarted
from tests.cli.test_cli import cli


@pytest.mark.parametrize("args, says", [
    (("run",), "Missing argument"),
    (("rnu", "x"), "No such command 'rnu'"),
    (("run", "--bogus", "x"), "No such option: --bogus"),
    (("workflow", "rnu"), "No such command 'rnu'"),
    (("tools", "--bogus"), "No such option: --bogus"),
    (("eval", "taskbench"), "Missing option"),
])
def test_a_usage_mistake_is_a_usage_line_and_exit_2(monkeypatch, capsys, args, says):
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 2, err
    assert "internal" not in err and "Traceback" not in err
    assert "Usage: mmagent" in err and says in err and "--help" in err


@pytest.mark.parametrize("args", [(), ("workflow",), ("eval",)])
def test_no_arguments_show_the_help_and_exit_2(monkeypatch, capsys, args):
    code, out, err = cli(monkeypatch, capsys, *args)
    assert code == 2 and "internal" not in err
    assert "Usage: mmagent" in out + err


def test_ctrl_c_during_a_run_is_one_line_with_the_resume_hint(monkeypatch, capsys, tmp_path):
    from mmagent.agent._agent import Agent

    monkeypatch.setenv("MMAGENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored after

    def interrupted(self, *args, **kwargs):
        yield RunStarted(run_id="run-abc123")
        raise KeyboardInterrupt

    monkeypatch.setattr(Agent, "stream", interrupted)
    code, _, err = cli(monkeypatch, capsys, "run", "Say hi")
    assert code == 130, (_, err)
    assert "mmagent resume run-abc123" in err and "Traceback" not in err, (_, err)
    # a worker thread failing as the interpreter shuts down prints nothing
    t = threading.Thread(target=lambda: (_ for _ in ()).throw(
        RuntimeError("cannot schedule new futures after shutdown")))
    t.start()
    t.join()
    assert "Traceback" not in capsys.readouterr().err
