"""The benchmark workload as a kopf operator, written the way kopf's documentation
teaches (for comparison with ``bench/peers/kubeplan_operator.py``).

    KUBECONFIG=... kopf run --standalone --all-namespaces bench/peers/kopf_operator.py

* on create: build the three children (``workload.children``), ``kopf.adopt`` them
  (owner reference, namespace), create each with kubernetes_asyncio's typed API, then
  write the same status as kubeplan (``patch.status``);
* on update of the spec: patch each child (strategic merge, what kubernetes_asyncio
  sends for a dict body) with its new rendering, Deployment first, and the status.

kopf's own behaviour is left at its defaults (progress and last-handled-configuration
annotations; no finalizer, as there is no delete handler). kopf >= 1.45 no longer posts
log messages as Events by default, so each handler posts one Event with ``kopf.info``,
as kubeplan posts one per parent it writes children for.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import kopf
from kubernetes_asyncio import client, config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload

_api: dict[str, client.ApiClient] = {}


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    """One shared kubernetes_asyncio client (from $KUBECONFIG) for the handlers."""
    await config.load_kube_config()
    _api["client"] = client.ApiClient()
    settings.posting.level = 20  # INFO: kopf's default


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    api = _api.pop("client", None)
    if api is not None:
        await api.close()


async def _create(obj: dict[str, Any], namespace: str) -> None:
    api = _api["client"]
    kind = obj["kind"]
    try:
        if kind == "Deployment":
            await client.AppsV1Api(api).create_namespaced_deployment(namespace, obj)
        elif kind == "Service":
            await client.CoreV1Api(api).create_namespaced_service(namespace, obj)
        else:
            await client.CoreV1Api(api).create_namespaced_config_map(namespace, obj)
    except client.ApiException as exc:
        if exc.status != 409:  # a retried handler finds what its first attempt created
            raise


async def _patch(obj: dict[str, Any], namespace: str) -> None:
    api = _api["client"]
    name = obj["metadata"]["name"]
    kind = obj["kind"]
    if kind == "Deployment":
        await client.AppsV1Api(api).patch_namespaced_deployment(name, namespace, obj)
    elif kind == "Service":
        await client.CoreV1Api(api).patch_namespaced_service(name, namespace, obj)
    else:
        await client.CoreV1Api(api).patch_namespaced_config_map(name, namespace, obj)


@kopf.on.create(workload.GROUP, workload.VERSION, workload.PLURAL)
async def create_fn(spec: Any, name: str, namespace: str, body: Any, patch: Any,
                    **_: Any) -> None:
    children = workload.children(name, dict(spec))
    kopf.adopt(children, owner=body)
    for child in children:
        await _create(child, namespace)
    patch.status.update(workload.status(dict(spec)))
    # kubeplan posts one Event per parent; kopf >= 1.45 posts none unless asked
    kopf.info(body, reason="Created", message=f"created Deployment, Service and ConfigMap "
                                              f"{namespace}/{name}")


@kopf.on.update(workload.GROUP, workload.VERSION, workload.PLURAL, field="spec")
async def update_fn(spec: Any, name: str, namespace: str, body: Any, patch: Any,
                    **_: Any) -> None:
    children = workload.children(name, dict(spec))
    kopf.adopt(children, owner=body)
    for child in children:
        await _patch(child, namespace)
    patch.status.update(workload.status(dict(spec)))
    kopf.info(body, reason="Updated", message=f"updated Deployment, Service and ConfigMap "
                                              f"{namespace}/{name}")
