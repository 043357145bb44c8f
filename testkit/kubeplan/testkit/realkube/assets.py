"""Where the real control plane's binaries come from: envtest's folder, kubeplan's cache,
or a build from the Go module beside this file.

Order, first match wins:

1. ``KUBEBUILDER_ASSETS`` (or an explicit folder): envtest's convention, a folder with
   ``kube-apiserver`` and ``etcd`` (``kube-controller-manager`` is used when present;
   without it there is no garbage collector nor namespace deletion, and the server says
   so). Users who have envtest binaries never need Go.
2. The cache, ``$XDG_CACHE_HOME/kubeplan/kube/<version>/`` (``~/.cache`` by default),
   keyed by the Kubernetes release in ``gomod/go.mod``.
3. A build: ``go build`` of the module in ``gomod/`` into the cache (about five minutes
   on two cores with an empty Go cache), once; concurrent builders wait on a lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from kubeplan.core.errors import KubeplanError

GOMOD = Path(__file__).resolve().parent / "gomod"
APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
ETCD = "etcd"
_BUILT = (APISERVER, CONTROLLER_MANAGER, ETCD)
_PACKAGES = {
    APISERVER: "k8s.io/kubernetes/cmd/kube-apiserver",
    CONTROLLER_MANAGER: "k8s.io/kubernetes/cmd/kube-controller-manager",
    ETCD: "./etcd",
}


class AssetsUnavailable(KubeplanError, RuntimeError):
    """No binaries could be found or built; the message says what failed and what to do."""


@attrs.frozen
class KubeAssets:
    """The binaries of one control plane."""

    folder: Path
    source: str  # "KUBEBUILDER_ASSETS", "--assets", "cache" or "build"

    @property
    def kube_apiserver(self) -> Path:
        return self.folder / APISERVER

    @property
    def etcd(self) -> Path:
        return self.folder / ETCD

    @property
    def controller_manager(self) -> Path | None:
        path = self.folder / CONTROLLER_MANAGER
        return path if _is_executable(path) else None


def kube_version() -> str:
    """The Kubernetes release the Go module builds (``v1.36.3``)."""
    text = (GOMOD / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes (v\d+\.\d+\.\d+)\s*$", text, re.MULTILINE)
    if match is None:  # pragma: no cover - the shipped go.mod names it
        raise AssetsUnavailable(f"{GOMOD / 'go.mod'} does not require k8s.io/kubernetes")
    return match.group(1)


def cache_folder(version: str | None = None,
                 environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubeplan" / "kube" / (version or kube_version())


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _complete(folder: Path, names: tuple[str, ...]) -> bool:
    return all(_is_executable(folder / name) for name in names)


def find_assets(explicit: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] = os.environ) -> KubeAssets | None:
    """The binaries already at hand, or None when they would have to be built.

    An explicit folder or ``KUBEBUILDER_ASSETS`` that lacks a binary is an error, not a
    reason to look elsewhere: the user asked for that folder.
    """
    for value, source in ((explicit, "--assets"),
                          (environ.get("KUBEBUILDER_ASSETS"), "KUBEBUILDER_ASSETS")):
        if value:
            folder = Path(value).expanduser().resolve()
            missing = [n for n in (APISERVER, ETCD) if not _is_executable(folder / n)]
            if missing:
                raise AssetsUnavailable(
                    f"{source}={value}: no executable {' or '.join(missing)} in {folder} "
                    "(the folder must hold kube-apiserver and etcd, as envtest's does)")
            return KubeAssets(folder, source)
    cached = cache_folder(environ=environ)
    if _complete(cached, _BUILT):
        return KubeAssets(cached, "cache")
    return None


def ensure_assets(explicit: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] = os.environ,
                  log: bool = True) -> KubeAssets:
    """The binaries, built into the cache first if need be."""
    found = find_assets(explicit, environ)
    if found is not None:
        return found
    return build_assets(environ=environ, log=log)


def build_assets(environ: Mapping[str, str] = os.environ, log: bool = True) -> KubeAssets:
    """Build kube-apiserver, kube-controller-manager and etcd into the cache (locked)."""
    version = kube_version()
    target = cache_folder(version, environ)
    go = shutil.which("go", path=environ.get("PATH"))
    if go is None:
        raise AssetsUnavailable(
            f"no Kubernetes binaries: KUBEBUILDER_ASSETS is not set, {target} holds none, "
            "and there is no `go` on PATH to build them. Install Go 1.26 or later, or point "
            "KUBEBUILDER_ASSETS (or --assets) at a folder with kube-apiserver and etcd "
            "(envtest's binaries work)")
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{version}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same
        if _complete(target, _BUILT):
            return KubeAssets(target, "cache")
        staging = target.parent / f".{version}.building"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        minor = version.lstrip("v").split(".")[1]
        stamp = " ".join(
            f"-X {pkg}.{var}={value}"
            for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
            for var, value in (("gitVersion", version), ("gitMajor", "1"),
                               ("gitMinor", minor), ("gitTreeState", "clean")))
        command = [go, "build", "-trimpath", "-mod=readonly", f"-ldflags=-s -w {stamp}",
                   "-o", str(staging) + os.sep, *_PACKAGES.values()]
        env = dict(environ)
        env.setdefault("GOFLAGS", "-buildvcs=false")
        if log:
            print(f"kubeplan: building Kubernetes {version} (kube-apiserver, "
                  f"kube-controller-manager, etcd) into {target}; this takes minutes once",
                  file=sys.stderr, flush=True)
        started = time.monotonic()
        result = subprocess.run(command, cwd=GOMOD, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise AssetsUnavailable(_build_failure(result.stderr, version))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        if log:
            print(f"kubeplan: built Kubernetes {version} in {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)
    return KubeAssets(target, "build")


def _build_failure(stderr: str, version: str) -> str:
    lines = stderr.strip().splitlines()
    missing = sorted(set(re.findall(r"module ([\w./-]+)@\S+: .*(?:not found|410 Gone|404)",
                                    stderr)))
    head = f"building Kubernetes {version} from {GOMOD} failed"
    if missing:
        head += "; modules the proxy did not serve: " + ", ".join(missing)
    tail = "\n".join(lines[-15:])
    return (f"{head}:\n{tail}\n(set KUBEBUILDER_ASSETS to a folder with kube-apiserver "
            "and etcd to use binaries built elsewhere)")
