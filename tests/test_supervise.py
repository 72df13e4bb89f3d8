"""A `regbench run` whose process a config kills ends with one line naming the config, not a bare exit status."""

import subprocess
import sys
import textwrap

import pytest

TINY = ["--seeds", "1", "--epochs", "1", "--n-train", "5", "--n-test", "5", "--no-plots"]
KILLER = textwrap.dedent('''
    import os
    import signal

    from torch import nn

    from regbench import Config


    class Killer(nn.Module):
        """Kills the process that runs it, as a segfaulting extension or the OOM killer would."""

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(784, 10)

        def forward(self, x):
            os.kill(os.getpid(), signal.SIGKILL)


    KILLER = Config(name="killer", description="kills its process", model=Killer)
''')

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="supervision forks: Linux only")


def regbench(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "regbench", "run", *args, *TINY, "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_config_that_kills_the_process_in_its_check_is_named(tmp_path):
    """The model dies in the one-batch check before training: exit 1 and one line naming the config and the signal."""
    (tmp_path / "killer_configs.py").write_text(KILLER)
    done = regbench(tmp_path, "--configs", "baseline,killer_configs:KILLER")
    assert done.returncode == 1
    (line,) = [x for x in done.stderr.splitlines() if "error" in x]
    assert line.startswith(
        "regbench run: error: the process died (signal SIGKILL) during the one-batch check of config 'killer' on digits"
    )


def test_a_supervised_run_keeps_its_own_exit_status_and_messages(tmp_path):
    """A run that finishes exits 0 with its table; a usage error still exits 2 with its own line, and no word about
    dying.
    """
    done = regbench(tmp_path, "--configs", "baseline")
    assert done.returncode == 0 and "| baseline | 1 |" in done.stdout and "died" not in done.stderr
    done = regbench(tmp_path, "--configs", "no-such-config")
    assert done.returncode == 2 and "regbench run: error:" in done.stderr and "died" not in done.stderr
