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

from kubeplan.core.errors import UsageError

_SERVING = re.compile(r"serving at (https?://\S+)")


class FakeApiServerProcess:
    """``python -m kubeplan.testkit.apiserver.serve`` on 127.0.0.1 with a kubeconfig."""

    def __init__(self, kubeconfig: Path, timeout: float = 30.0, *, tls: bool = False,
                 token: str | None = None) -> None:
        """``tls``: HTTPS, its CA in the kubeconfig and in ``ca_file``; ``token``: every
        request must carry it (passed in the environment, never on the command line)."""
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.tls = tls
        self.token = token
        self.url = ""
        self.ca_file: Path | None = None
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FakeApiServerProcess:
        # its log goes to a file beside the kubeconfig: a pipe nobody reads could fill up
        # and block the server
        self.log = self.kubeconfig.with_name(self.kubeconfig.name + ".log")
        command = [sys.executable, "-m", "kubeplan.testkit.apiserver.serve", "--port", "0",
                   "--kubeconfig", str(self.kubeconfig), *(["--tls"] if self.tls else [])]
        env = dict(os.environ)
        env.pop("KUBEPLAN_FAKE_APISERVER_TOKEN", None)
        if self.token is not None:
            env["KUBEPLAN_FAKE_APISERVER_TOKEN"] = self.token
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                text=True, start_new_session=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = _SERVING.search(line)
        if match is None:
            self.stop()
            err = self.log.read_text(errors="replace")
            raise UsageError(f"the fake API server did not start: {line!r} {err[-500:]}")
        self.url = match.group(1)
        if self.tls:
            self.ca_file = self.kubeconfig.with_name(self.kubeconfig.name + ".ca.crt")
            self.ca_file.write_bytes(_kubeconfig_ca(self.kubeconfig))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None:
            stop_by_pid(self.proc)


def _kubeconfig_ca(kubeconfig: Path) -> bytes:
    import base64

    import yaml

    config = yaml.safe_load(kubeconfig.read_text())
    return base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])


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
