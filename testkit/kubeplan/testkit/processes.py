"""A server in a process of its own, started and stopped by its pid: the fake API server
the way tests of real clients meet it (the real one is ``realkube.RealKubeApiServer``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

_SERVING = re.compile(r"serving at (http://\S+)")


class FakeApiServerProcess:
    """``python -m kubeplan.testkit.apiserver.serve`` on 127.0.0.1 with a kubeconfig."""

    def __init__(self, kubeconfig: Path, timeout: float = 30.0) -> None:
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FakeApiServerProcess:
        # its log goes to a file beside the kubeconfig: a pipe nobody reads could fill up
        # and block the server
        self.log = self.kubeconfig.with_name(self.kubeconfig.name + ".log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kubeplan.testkit.apiserver.serve", "--port", "0",
                 "--kubeconfig", str(self.kubeconfig)],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = _SERVING.search(line)
        if match is None:
            self.stop()
            err = self.log.read_text(errors="replace")
            raise RuntimeError(f"the fake API server did not start: {line!r} {err[-500:]}")
        self.url = match.group(1)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None:
            stop_by_pid(self.proc)


def stop_by_pid(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM to the process's own pid, SIGKILL after ``grace`` seconds; reaped either way."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
