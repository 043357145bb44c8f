"""examples/member end to end: `kubeplan run` against the chosen server (fake, real or both).

A Member gets a ConfigMap ``member-<name>``: created from the sample, following spec
changes, repaired when edited or deleted by hand, removed by the garbage collector when
the Member goes (with the operator stopped, so only the collector can have done it), and
a same-named ConfigMap that is not the Member's is left alone and reported.
"""

from __future__ import annotations

from typing import Any

from e2e_support import (
    E2E,
    EXAMPLES,
    RawObject,
    condition,
    eventually,
    is_synced,
    load_yaml,
    meta,
    owner_uids,
    stays,
    untouched,
)

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")
CM = core_v1.ConfigMap
TARGET = "examples/member/member_operator.py:operator"


def _start(e2e: E2E) -> None:
    e2e.admin.install_crd(EXAMPLES / "member" / "crd.yaml")
    e2e.operator(TARGET)


def _synced_member(e2e: E2E, name: str, generation: int) -> RawObject:
    def check() -> RawObject | None:
        found = e2e.admin.get(MEMBER, name, e2e.namespace)
        ok = is_synced(found) and meta(found or {}).get("generation") == generation
        return found if ok else None

    return eventually(check, what=f"Member {name} synced at generation {generation}",
                      context=e2e.logs)


def _greeting(e2e: E2E, name: str, text: str, *, only: bool = True) -> RawObject:
    """Wait until the ConfigMap greets with ``text`` (and holds nothing else, if ``only``)."""
    def check() -> RawObject | None:
        data = ((found := e2e.admin.get(CM, name, e2e.namespace)) or {}).get("data") or {}
        return found if data.get("greeting") == text and (not only or len(data) == 1) else None

    return eventually(check, what=f"ConfigMap {name} greets {text!r}", context=e2e.logs)


def test_member_converges_follows_repairs_and_is_collected(e2e: E2E) -> None:
    _start(e2e)
    admin, ns = e2e.admin, e2e.namespace
    sample = load_yaml(EXAMPLES / "member" / "member.yaml")
    sample["metadata"]["namespace"] = ns
    parent = admin.create(MEMBER, sample)

    configmap = _greeting(e2e, "member-ada", "Hello, ada! Welcome to analytical-engines.")
    assert owner_uids(configmap) == [meta(parent)["uid"]]
    assert meta(configmap)["ownerReferences"][0]["controller"] is True
    assert meta(configmap)["labels"]["kubeplan.dev/operator"] == "member"
    stored = _synced_member(e2e, "ada", 1)
    assert stored["status"]["greeting"] == "Hello, ada! Welcome to analytical-engines."
    created = admin.events(ns, "ada", "Created")
    assert created and created[0]["type"] == "Normal", created

    # the spec changes: the child and the status follow
    admin.merge_patch(MEMBER, "ada", {"spec": {"memberOf": "difference-engines"}}, ns)
    _greeting(e2e, "member-ada", "Hello, ada! Welcome to difference-engines.")
    stored = _synced_member(e2e, "ada", 2)
    assert stored["status"]["greeting"] == "Hello, ada! Welcome to difference-engines."

    # drift: an edit by hand is undone; a field someone else added survives the repair
    # (server-side apply keeps other managers' fields); a deleted child comes back
    admin.merge_patch(CM, "member-ada", {"data": {"greeting": "tampered", "extra": "x"}}, ns)
    repaired = _greeting(e2e, "member-ada", "Hello, ada! Welcome to difference-engines.",
                         only=False)
    assert repaired["data"]["extra"] == "x"
    before = admin.get(CM, "member-ada", ns)
    assert before is not None
    admin.delete(CM, "member-ada", ns)
    again = _greeting(e2e, "member-ada", "Hello, ada! Welcome to difference-engines.")
    assert meta(again)["uid"] != meta(before)["uid"]

    # the parent goes while no operator runs: only the garbage collector can remove it
    assert e2e.operators[0].stop() == 0, e2e.logs()
    admin.delete(MEMBER, "ada", ns)
    admin.gone(CM, "member-ada", ns)


def test_member_leaves_a_foreign_configmap_alone_and_reports_it(e2e: E2E) -> None:
    _start(e2e)
    admin, ns = e2e.admin, e2e.namespace
    foreign = admin.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "member-bob", "namespace": ns},
                                "data": {"mine": "yes"}})
    admin.create(MEMBER, {"apiVersion": MEMBER.api_version, "kind": "Member",
                          "metadata": {"name": "bob", "namespace": ns},
                          "spec": {"name": "Bob"}})

    def clash() -> dict[str, Any] | None:
        synced = condition(admin.get(MEMBER, "bob", ns))
        return synced if synced and synced.get("reason") == "ChildConflict" else None

    reported = eventually(clash, what="Member bob reports the clash", context=e2e.logs)
    assert reported["status"] == "False"
    assert "member-bob" in reported["message"] and "already exists" in reported["message"]
    warnings = eventually(lambda: admin.events(ns, "bob", "ChildConflict"),
                          what="a ChildConflict Event on bob", context=e2e.logs)
    assert {e["type"] for e in warnings} == {"Warning"}
    # through several retries the object stays exactly as it was
    stays(lambda: untouched(foreign, admin.get(CM, "member-bob", ns)),
          what="the foreign ConfigMap was written", duration=2.0)
    kept = admin.get(CM, "member-bob", ns)
    assert kept is not None and kept["data"] == {"mine": "yes"}
    assert not meta(kept).get("ownerReferences") and not meta(kept).get("labels")

    # once it is gone the clash clears at the next retry: the Member gets its own
    admin.delete(CM, "member-bob", ns)
    mine = _greeting(e2e, "member-bob", "Hello, Bob!")
    assert meta(mine)["uid"] != meta(foreign)["uid"]
    _synced_member(e2e, "bob", 1)
