"""Reaching a cluster from a command: the kubeconfig checked first, the server probed.

``check_kubeconfig`` reads the kubeconfig the way ``KubeClient.from_config`` will and turns
what is wrong with it (a missing file, a context it does not have, no current-context)
into one line that says what to do, before any client library gets to print a traceback.
``connect`` then builds the client. ``wait_until_served`` asks the API server for
``/version`` and for the discovery document of the parent's group version until both
answer or a start-up timeout passes: a command that cannot reach its cluster says so and
exits instead of retrying forever.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import ApiError, Forbidden, NotFound, Unauthorized
from kubeplan.core.errors import KubeplanError
from kubeplan.core.types import K8sType


class ClusterError(KubeplanError):
    """The cluster cannot be used; the message (one line) says why and what to do."""


def _files(kubeconfig: str | None) -> tuple[list[Path], str]:
    """The kubeconfig files to read and how to name where they came from."""
    if kubeconfig is not None:
        return [Path(kubeconfig).expanduser()], "--kubeconfig"
    env = os.environ.get("KUBECONFIG", "")
    if env.strip(os.pathsep):
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p], "$KUBECONFIG"
    return [Path.home() / ".kube" / "config"], "the default"


def check_kubeconfig(kubeconfig: str | None, context: str | None) -> None:
    """Raise ``ClusterError`` when the kubeconfig (or ``context`` in it) cannot work.

    Nothing is checked for an in-cluster configuration (no ``--kubeconfig`` and no
    ``--context`` inside a pod); anything this check does not know (exec plugins, odd
    fields) is left to the client's loader.
    """
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return
    files, source = _files(kubeconfig)
    existing = [f for f in files if f.is_file()]
    if kubeconfig is not None and not existing:
        raise ClusterError(
            f"kubeconfig {kubeconfig!r} does not exist: pass --kubeconfig the path of a "
            "kubeconfig file, or leave it out to use $KUBECONFIG or ~/.kube/config"
        )
    if not existing:
        if source == "$KUBECONFIG":
            raise ClusterError(
                f"$KUBECONFIG names {os.environ['KUBECONFIG']!r}, which does not exist: set "
                "it to a kubeconfig file, or pass --kubeconfig"
            )
        raise ClusterError(
            f"no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG or create "
            f"{files[0]} (or run inside a pod with a service account)"
        )
    contexts: list[str] = []
    current = ""
    for path in existing:
        doc = _read(path)
        for item in doc.get("contexts") or ():
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                contexts.append(item["name"])
        current = current or str(doc.get("current-context") or "")
    where = str(existing[0]) if len(existing) == 1 else " + ".join(map(str, existing))
    listed = ", ".join(repr(c) for c in contexts) or "none"
    if context is not None and context not in contexts:
        keep = f" to use its current-context {current!r}" if current else ""
        raise ClusterError(
            f"context {context!r} is not in kubeconfig {where} (its contexts: {listed}): "
            f"pass one of them with --context, or leave --context out{keep}"
        )
    if context is None and not current:
        hint = "pass --context NAME" if contexts else "add a context to it"
        raise ClusterError(
            f"kubeconfig {where} has no current-context (its contexts: {listed}): {hint}, "
            "or set one with kubectl config use-context"
        )
    if context is None and current not in contexts:
        raise ClusterError(
            f"kubeconfig {where} names current-context {current!r}, which it does not define "
            f"(its contexts: {listed}): pass --context NAME or fix current-context"
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClusterError(f"cannot read kubeconfig {str(path)!r}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(
            f"kubeconfig {str(path)!r} is not valid YAML ({first}): fix it or pass another "
            "with --kubeconfig"
        ) from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ClusterError(f"kubeconfig {str(path)!r} is not a kubeconfig (not a mapping)")
    return doc


async def connect(kubeconfig: str | None, context: str | None, **options: Any) -> KubeClient:
    """A ``KubeClient`` for the configuration, or ``ClusterError`` saying what is wrong."""
    check_kubeconfig(kubeconfig, context)
    try:
        return await KubeClient.from_config(kubeconfig, context, **options)
    except Exception as exc:  # the loaders raise their own kinds (ConfigException ...)
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(f"cannot load the Kubernetes configuration: {message}") from exc


def host_of(client: KubeClient) -> str:
    """The API server's URL, as the client was configured with it."""
    return str(getattr(client, "_host", "the cluster"))


async def _get(client: KubeClient, path: str) -> dict[str, Any]:
    # The client has no public raw GET; discovery and /version are plain reads.
    return await client._call("get", "GET", path)


def _discovery_path(type_: K8sType) -> str:
    return f"/apis/{type_.api_version}" if type_.group else f"/api/{type_.api_version}"


async def wait_until_served(
    kubeconfig: str | None,
    context: str | None,
    parent: K8sType,
    *,
    timeout: float,
    on_wait: Callable[[str], None] = lambda message: None,
    retry_every: float = 1.0,
) -> None:
    """Wait until the API server answers and serves ``parent``, at most ``timeout`` s.

    Each probe is one request with no retry (``/version``, then the discovery document
    of the parent's group version); ``on_wait`` is told once, when the first probe fails,
    what is being waited for. ``ClusterError`` at once when the server refuses the
    credentials, and after ``timeout`` with the last reason.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    probe = await connect(kubeconfig, context, read_attempts=1,
                          request_timeout=max(0.5, min(5.0, timeout)))
    host = host_of(probe)
    reason = ""
    told = False
    try:
        while True:
            try:
                await _get(probe, "/version")
                if await _serves(probe, parent):
                    return
                reason = (f"it does not serve {parent.api_version} {parent.plural}: install "
                          "the CRD (kubeplan crd MODULE:ATTR | kubectl apply -f -)")
            except (Unauthorized, Forbidden) as exc:  # /version is open to any user
                raise ClusterError(
                    f"the API server at {host} refused the credentials ({exc}): check the "
                    "user of the context in the kubeconfig"
                ) from exc
            except ApiError as exc:
                reason = " ".join(str(exc.message or exc).split())
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ClusterError(
                    f"the API server at {host} was not ready within {timeout:g}s: {reason}; "
                    "check that the cluster is running and that --kubeconfig/--context point "
                    "at it, or wait longer with --startup-timeout"
                )
            if not told:
                on_wait(f"waiting up to {timeout:g}s for the API server at {host}: {reason}")
                told = True
            await asyncio.sleep(min(retry_every, remaining))
    finally:
        await probe.close()


async def _serves(client: KubeClient, type_: K8sType) -> bool:
    try:
        document = await _get(client, _discovery_path(type_))
    except NotFound:
        return False
    except Forbidden:  # discovery refused to this user: the operator itself will tell
        return True
    return any(r.get("name") == type_.plural for r in document.get("resources") or ())
