"""A command that dies says so: `regbench run` works in a forked child, and the parent names what the child was doing
when it died.

A config's model can end the very process that checks it: a segfault in an extension, an
``os._exit``, the kernel's OOM killer. Worker processes already isolate such a cell (the pool
retries it, then records it ``crashed``), but the one-batch check of every config (and a small
matrix's training) runs in the command's own process, and its death would end the command
with the dead process's exit status and no word. Here the parent waits on a pipe: the child
``announce``s what it is about to do, and a child that dies without finishing leaves the
parent with its last announcement, which becomes one line naming the config.

Linux only (``os.fork``, before any torch thread starts: the command line forks before it trains
anything); elsewhere, and for ``main(argv)`` called from Python, the command runs unsupervised.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Callable, Optional

__all__ = ["announce", "supervised"]

_CHANNEL: Optional[int] = None  # the write end of the pipe to the supervising parent, in a supervised child
DONE = "\0done"  # the child's last word when it returns normally, whatever its exit code


def announce(what: str) -> None:
    """Tell the supervising parent what this process is about to do (nothing when unsupervised)."""
    if _CHANNEL is not None:
        try:
            os.write(_CHANNEL, (what.replace("\n", " ") + "\n").encode())
        except OSError:
            pass


def supervised(command: str, work: Callable[[], int]) -> int:
    """``work()`` in a forked child; its exit code, or 1 with one line on stderr naming what it was doing when it
    died.
    """
    global _CHANNEL
    if not sys.platform.startswith("linux"):
        return work()
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child does the work and reports its end
        os.close(read)
        _CHANNEL = write
        code = 1
        try:
            code = work()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            announce(DONE)
            os._exit(code)
    os.close(write)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the child, which stops and reports it
    try:
        last, done, buffer = "", False, b""
        while chunk := os.read(read, 65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                done = done or text == DONE
                last = text if text != DONE else last
        _, status = os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGINT, previous)
        os.close(read)
    code = os.waitstatus_to_exitcode(status)
    if done:
        return code
    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    print(
        f"regbench {command}: error: the process died ({how})"
        f" {('during ' + last) if last else 'before training began'}; fix or leave out what it names (a crash in a"
        " worker process is isolated and recorded instead)",
        file=sys.stderr,
        flush=True,
    )
    return 1
