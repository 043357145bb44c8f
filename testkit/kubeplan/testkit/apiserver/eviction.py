"""``POST .../pods/NAME/eviction``: a policy/v1 Eviction, which deletes the pod.

As the real server's eviction: the Eviction's name must be the pod's (400), a missing
pod is a 404, and success is ``201`` with a bare ``Success`` Status. A pod that is
not Running (Pending, Succeeded, Failed, or already being deleted) is deleted
without looking at PodDisruptionBudgets; a Running pod is refused with 429 when the
one budget selecting it allows no disruption (``status.disruptionsAllowed``, which no
controller of the fake computes: a test sets it), and a pod selected by several
budgets is a 500, as upstream. An allowed eviction takes one from the budget's
``disruptionsAllowed``. The Eviction's ``deleteOptions`` are the deletion's.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.scale import selector_string
from kubeplan.testkit.apiserver.selectors import SelectorError, parse_label_selector
from kubeplan.testkit.apiserver.store import Obj
from kubeplan.testkit.apiserver.writes import Target, Writer, WriteResult, parse_delete_options

__all__ = ["evict"]

_PDB = "poddisruptionbudgets.policy"


def _check_body(body: Any, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise status.bad_request("the body of an Eviction must be a JSON object")
    kind = body.get("kind") or "Eviction"
    api_version = body.get("apiVersion") or "policy/v1"
    if kind != "Eviction" or api_version not in ("policy/v1", "policy/v1beta1"):
        raise status.bad_request(
            f"the body names {api_version}, Kind={kind}; pods/eviction takes policy/v1, "
            "Kind=Eviction"
        )
    meta = body.get("metadata")
    if not isinstance(meta, dict) or meta.get("name") != name:
        raise status.bad_request("name in URL does not match name in Eviction object")
    return body


def _budgets(writer: Writer, pod: Obj) -> list[Obj]:
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    found = []
    for pdb in writer.store.objects(_PDB, meta.get("namespace") or ""):
        selector = (pdb.get("spec") or {}).get("selector")
        if not isinstance(selector, dict):
            continue
        text = selector_string(selector)
        if not text:  # an empty selector selects nothing in policy/v1beta1, all in v1
            found.append(pdb)
            continue
        try:
            if parse_label_selector(text).matches(labels):
                found.append(pdb)
        except SelectorError:
            continue
    return found


def evict(writer: Writer, target: Target, body: Any) -> WriteResult:
    """Evict the pod ``target`` names (201 Success), or refuse as the real server does."""
    name = target.name or ""
    body = _check_body(body, name)
    pod = writer.store.get(target.group_resource, target.namespace, name)
    if pod is None:
        raise status.not_found(target.info.plural, target.info.group, name)
    raw_options = body.get("deleteOptions")
    options = parse_delete_options(
        orjson.dumps(raw_options) if isinstance(raw_options, dict) else b"", {}
    )
    phase = (pod.get("status") or {}).get("phase")
    ignore_budgets = phase != "Running" or bool(pod["metadata"].get("deletionTimestamp"))
    if not ignore_budgets:
        budgets = _budgets(writer, pod)
        if len(budgets) > 1:
            raise status.internal(
                "This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support."
            )
        if budgets:
            pdb = budgets[0]
            pdb_status = pdb.get("status") or {}
            allowed = pdb_status.get("disruptionsAllowed") or 0
            if allowed <= 0:
                raise status.StatusError(
                    status.status_body(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        {
                            "causes": [
                                {
                                    "reason": "DisruptionBudget",
                                    "message": f"The disruption budget "
                                    f"{pdb['metadata']['name']} needs "
                                    f"{pdb_status.get('desiredHealthy') or 0} healthy pods "
                                    f"and has {pdb_status.get('currentHealthy') or 0} "
                                    "currently",
                                }
                            ]
                        },
                    )
                )
            pdb_meta = pdb["metadata"]

            def take_one(o: Obj) -> Obj:
                o.setdefault("status", {})["disruptionsAllowed"] = allowed - 1
                return o

            writer.controller_update(
                _PDB, pdb_meta.get("namespace") or "", pdb_meta["name"], take_one
            )
    writer.delete(Target(target.info, target.namespace, name), options)
    return WriteResult(
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
    )
