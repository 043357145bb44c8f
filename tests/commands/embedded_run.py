"""`kubeplan run TARGET --embedded` in a process of its own, for tests that drive it from
outside (kubectl, a client) as a user in another shell would."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs


@attrs.define
class EmbeddedRun:
    """The running command: its process, what it printed so far, its kubeconfig."""

    proc: subprocess.Popen[str]
    lines: list[str]
    kubeconfig: str
    err_file: Path

    def stderr(self) -> str:
        return self.err_file.read_text()


@contextmanager
def embedded_run(target: str, folder: Path, *, ready: str = "kubeconfig:",
                 cwd: Path | None = None) -> Iterator[EmbeddedRun]:
    """Start the command, read its output up to the first line starting with ``ready``
    (the kubeconfig line comes before it), and stop it with Ctrl-C (SIGINT) at the end:
    ``proc.returncode`` is then what a user's Ctrl-C gives."""
    err_file = folder / "stderr"
    with open(err_file, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubeplan.cli", "run", target, "--embedded"],
            cwd=cwd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.startswith(ready) for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines) + err_file.read_text()
            lines.append(line)
        kubeconfig = next(line.split()[1] for line in lines if line.startswith("kubeconfig:"))
        yield EmbeddedRun(proc, lines, kubeconfig, err_file)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
