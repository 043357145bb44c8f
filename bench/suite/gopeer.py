"""The Go peer (``bench/peers/controller-runtime/``), built once and cached.

The binary is ``~/.cache/kubeplan/bench/controller-runtime-peer-<key>``, where the key
is a hash of ``go.mod``, ``go.sum`` and every ``*.go`` file of the module (and of the
Go toolchain's version): it is rebuilt only when that file is missing, so an edit to the
peer gives a new binary (the older ones are removed) and an unchanged peer costs
nothing. ``go`` missing from PATH
is no error: ``build`` says why there is no binary and the suite runs without the peer.

    python bench/suite/gopeer.py            # build (or find) it and print where it is
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MODULE = Path(__file__).resolve().parents[1] / "peers" / "controller-runtime"
NAME = "controller-runtime-peer"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubeplan" / "bench"


def _sources() -> list[Path]:
    return sorted([MODULE / "go.mod", MODULE / "go.sum", *MODULE.glob("*.go")])


def source_key(go_version: str = "") -> str:
    """The hash the cached binary is named by."""
    digest = hashlib.sha256(go_version.encode())
    for path in _sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build() -> dict[str, Any]:
    """Find or build the binary: ``{"path", "seconds", "cached", "go"}``, or
    ``{"path": None, "reason": ...}`` when it cannot be had."""
    go = shutil.which("go")
    if go is None:
        return {"path": None, "reason": "`go` is not on PATH: the controller-runtime peer "
                                        "(bench/peers/controller-runtime) is skipped"}
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True,
                             check=False).stdout.strip()
    target = cache_dir() / f"{NAME}-{source_key(version)}"
    started = time.perf_counter()
    if target.exists():
        return {"path": str(target), "seconds": round(time.perf_counter() - started, 3),
                "cached": True, "go": version}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    # -mod=readonly: go.mod and go.sum as committed, never rewritten by the build
    env = {**os.environ, "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}
    proc = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."], cwd=MODULE,
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        return {"path": None, "reason": "building the controller-runtime peer failed:\n"
                                        + proc.stderr.strip()[-2000:]}
    partial.replace(target)
    for old in target.parent.glob(f"{NAME}-*"):  # binaries of earlier sources
        if old != target and not old.name.endswith(".partial"):
            old.unlink(missing_ok=True)
    return {"path": str(target), "seconds": round(time.perf_counter() - started, 1),
            "cached": False, "go": version}


if __name__ == "__main__":
    result = build()
    if result["path"] is None:
        print(result["reason"], file=sys.stderr)
        sys.exit(1)
    how = "cached" if result["cached"] else "built"
    print(f"{result['path']} ({how} in {result['seconds']} s, {result['go']})")
