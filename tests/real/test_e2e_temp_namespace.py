"""examples/temp-namespace end to end: a cluster-scoped TempNamespace owning a Namespace
until its ttl runs out, through `kubeplan run` on the chosen server.

Time is an input here: the operator asks to be called again when the ttl expires
(``resync_after``), so one parent with a short ttl must expire on its own, with nothing
else happening, and its Namespace must go and stay gone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from e2e_support import (
    E2E,
    EXAMPLES,
    NAMESPACE_GONE,
    RawObject,
    condition,
    eventually,
    is_synced,
    load_yaml,
    meta,
    owner_uids,
    stays,
    unique,
    untouched,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

TEMP = K8sType("example.kubeplan.dev/v1", "TempNamespace", "tempnamespaces", namespaced=False)
NS = core_v1.Namespace
TARGET = "examples/temp-namespace/temp_namespace_operator.py:operator"
LABEL = "example.kubeplan.dev/temporary"


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _phase(e2e: E2E, name: str, phase: str, timeout: float = 45.0) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(TEMP, name)
        return found if is_synced(found) and (
            (found or {}).get("status") or {}).get("phase") == phase else None

    return eventually(check, what=f"TempNamespace {name} {phase}", timeout=timeout,
                      context=e2e.logs)


def _make(e2e: E2E, name: str, ttl: str) -> RawObject:
    sample = load_yaml(EXAMPLES / "temp-namespace" / "tempnamespace.yaml")
    sample["metadata"]["name"] = name
    sample["spec"]["ttl"] = ttl
    e2e.remember(TEMP, name)
    e2e.remember(NS, name)
    return e2e.admin.create(TEMP, sample)


def test_temp_namespace_lives_expires_follows_and_is_collected(e2e: E2E) -> None:
    admin = e2e.admin
    e2e.operator(TARGET)
    lasting, short, shortened = unique("tmp-lasting"), unique("tmp-short"), unique("tmp-cut")
    parent = _make(e2e, lasting, "1h")
    _make(e2e, short, "6s")
    _make(e2e, shortened, "1h")

    namespace = eventually(lambda: admin.get(NS, lasting), what="the Namespace",
                           context=e2e.logs)
    assert owner_uids(namespace) == [meta(parent)["uid"]]
    assert meta(namespace)["labels"][LABEL] == "true"
    stored = _phase(e2e, lasting, "Active")
    expires = _stamp(stored["status"]["expiresAt"])
    assert expires - _stamp(meta(stored)["creationTimestamp"]) == timedelta(hours=1)
    assert stored["status"]["namespace"] == lasting

    # drift: the label is put back
    admin.merge_patch(NS, lasting, {"metadata": {"labels": {LABEL: "false"}}})
    eventually(lambda: meta(admin.get(NS, lasting) or {}).get("labels", {}).get(LABEL) ==
               "true", what="the label repaired", context=e2e.logs)

    # a shorter ttl in the spec: already past, the Namespace goes at once
    admin.merge_patch(TEMP, shortened, {"spec": {"ttl": "1s"}})
    _phase(e2e, shortened, "Expired")
    admin.gone(NS, shortened, timeout=NAMESPACE_GONE, context=e2e.logs)

    # the 6 s one expires on its own (resync_after), and its Namespace stays gone
    _phase(e2e, short, "Expired", timeout=60)
    expired = admin.get(TEMP, short)
    assert expired is not None and expired["status"].get("namespace") is None
    admin.gone(NS, short, timeout=NAMESPACE_GONE, context=e2e.logs)
    stays(lambda: admin.get(NS, short) is None, what="the expired Namespace came back",
          duration=1.0)
    assert admin.get(NS, lasting) is not None  # the others' expiry did not touch it

    # the parent goes while no operator runs: the collector deletes its Namespace
    assert e2e.operators[0].stop() == 0, e2e.logs()
    admin.delete(TEMP, lasting)
    admin.gone(NS, lasting, timeout=NAMESPACE_GONE)


def test_temp_namespace_leaves_a_foreign_namespace_alone_and_reports_it(e2e: E2E) -> None:
    admin = e2e.admin
    name = unique("tmp-taken")
    foreign = admin.create(NS, {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": name, "labels": {"team": "theirs"}}})
    e2e.operator(TARGET)
    _make(e2e, name, "1h")

    def clash() -> dict[str, Any] | None:
        synced = condition(admin.get(TEMP, name))
        return synced if synced and synced.get("reason") == "ChildConflict" else None

    reported = eventually(clash, what=f"{name} reports the clash", context=e2e.logs)
    assert reported["status"] == "False" and name in reported["message"]
    eventually(lambda: admin.events("default", name, "ChildConflict"),
               what=f"a ChildConflict Event on {name}", context=e2e.logs)
    stays(lambda: untouched(foreign, admin.get(NS, name)),
          what="the foreign Namespace was written", duration=2.0)
