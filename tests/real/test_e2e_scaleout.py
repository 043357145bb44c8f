"""Three `kubeplan run` replicas of examples/member on the real kube-apiserver, coordinated
through Lease objects only (docs/sharding.md).

- Leader election: exactly one replica holds the Lease and it alone writes; killed
  (SIGKILL: nothing released), another takes the Lease once it expires and converges a
  parent created after the kill.
- Sharding: each replica syncs exactly the parents rendezvous hashing gives it under
  the view all three published; one killed, the survivors publish a two-member view and
  take its parents over.

Who wrote what is read from each replica's log (the runtime logs every executed plan),
who holds what from the Leases. The Leases live in the test's namespace
(``$POD_NAMESPACE``), the replicas are named by ``$POD_NAME``. Lease timing is the
default (15 s lease, 10 s renew deadline, 2 s retry): `kubeplan run` has no flags for it,
so a failover takes about 15 s.
"""

from __future__ import annotations

import time

from e2e_support import E2E, RawObject, eventually, is_synced, meta

from kubeplan.core.k8s import core_v1
from kubeplan.core.k8s.coordination_v1 import Lease
from kubeplan.core.sharding import LABEL_SHARD_OF, rendezvous_owner, view_from_annotations
from kubeplan.core.types import K8sType

MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")
CM = core_v1.ConfigMap
TARGET = "examples/member/member_operator.py:operator"
#: the default lease timing: a takeover after a crash is due within D + R of the last
#: renewal; the margin is for a loaded 2-core machine
FAILOVER = 15.0 + 2.0 + 25.0


def _member(e2e: E2E, name: str, member_of: str | None = None) -> RawObject:
    spec: dict[str, str] = {"name": name}
    if member_of:
        spec["memberOf"] = member_of
    return e2e.admin.create(MEMBER, {"apiVersion": MEMBER.api_version, "kind": "Member",
                                     "metadata": {"name": name, "namespace": e2e.namespace},
                                     "spec": spec})


def _greeted(e2e: E2E, names: list[str], suffix: str = "") -> None:
    def check() -> bool:
        found = {meta(cm)["name"]: cm for cm in e2e.admin.list(CM, e2e.namespace)}
        return all((found.get(f"member-{n}") or {}).get("data", {}).get("greeting") ==
                   f"Hello, {n}!{suffix}" for n in names) and all(
            is_synced(e2e.admin.get(MEMBER, n, e2e.namespace)) for n in names)

    eventually(check, what=f"{len(names)} Members greeted{suffix!r}", context=e2e.logs)


def _ours(e2e: E2E, planned: set[str]) -> set[str]:
    """The names of this test's parents among ``namespace/name`` entries."""
    prefix = f"{e2e.namespace}/"
    return {entry.removeprefix(prefix) for entry in planned if entry.startswith(prefix)}


def test_one_leader_writes_and_another_takes_over_when_it_is_killed(real_e2e: E2E) -> None:
    e2e = real_e2e
    replicas = {
        name: e2e.operator(TARGET, args=["--leader-election"], name=name, ready=False,
                           env={"POD_NAME": name, "POD_NAMESPACE": e2e.namespace})
        for name in ("replica-a", "replica-b", "replica-c")}
    for replica in replicas.values():
        replica.wait_ready()  # standbys list too: their caches are warm

    def holder() -> str | None:
        lease = e2e.admin.get(Lease, "member-leader", e2e.namespace)
        held = ((lease or {}).get("spec") or {}).get("holderIdentity")
        return held if held in replicas else None

    leader = eventually(holder, what="a leader", context=e2e.logs)
    eventually(lambda: f"{leader} leads" in replicas[leader].log(), what="the leader's log",
               context=e2e.logs)
    names = [f"m{i}" for i in range(4)]
    for name in names:
        _member(e2e, name)
    _greeted(e2e, names)
    assert _ours(e2e, replicas[leader].planned_for()) == set(names), e2e.logs()
    for name, replica in replicas.items():
        if name != leader:
            assert not replica.planned_for() and " leads" not in replica.log(), e2e.logs()

    # a crash: the Lease is not released, the others must wait for it to expire
    replicas[leader].kill()
    killed_at = time.monotonic()
    survivors = {n: r for n, r in replicas.items() if n != leader}
    offsets = {n: r.log_size() for n, r in survivors.items()}
    _member(e2e, "after")
    successor = eventually(lambda: (h := holder()) in survivors and h, what="a new leader",
                           timeout=FAILOVER, context=e2e.logs)
    assert isinstance(successor, str)
    took = time.monotonic() - killed_at
    _greeted(e2e, [*names, "after"])
    # a change to a parent from before the kill is followed too
    e2e.admin.merge_patch(MEMBER, "m0", {"spec": {"memberOf": "the-new-term"}}, e2e.namespace)
    _greeted(e2e, ["m0"], " Welcome to the-new-term.")
    assert {"after", "m0"} <= _ours(e2e, survivors[successor].planned_for(offsets[successor]))
    (standby,) = set(survivors) - {successor}
    assert not survivors[standby].planned_for(), e2e.logs()
    assert took < FAILOVER, took


def test_three_shards_own_disjoint_parents_and_survive_a_kill(real_e2e: E2E) -> None:
    e2e = real_e2e
    members = ["shard-a", "shard-b", "shard-c"]
    replicas = {
        name: e2e.operator(TARGET, args=["--sharding"], name=name, ready=False,
                           env={"POD_NAME": name, "POD_NAMESPACE": e2e.namespace})
        for name in members}
    for replica in replicas.values():
        replica.wait_ready()

    def views() -> dict[str, frozenset[str] | None]:
        leases = e2e.admin.list(Lease, e2e.namespace, label_selector=f"{LABEL_SHARD_OF}=member")
        return {lease["spec"].get("holderIdentity"): view_from_annotations(
            meta(lease).get("annotations") or {}) for lease in leases}

    def agreed(on: set[str]) -> bool:
        seen = views()
        return set(seen) == on and all(view == frozenset(on) for view in seen.values())

    eventually(lambda: agreed(set(members)), what="three members agreeing on the view",
               timeout=60, context=lambda: f"{views()}\n{e2e.logs()}")

    names = [f"p{i}" for i in range(12)]
    uids = {name: meta(_member(e2e, name))["uid"] for name in names}
    _greeted(e2e, names)
    synced = {name: _ours(e2e, replica.planned_for()) for name, replica in replicas.items()}
    for name in members:
        expected = {p for p in names if rendezvous_owner(members, uids[p]) == name}
        assert synced[name] == expected, (name, synced, e2e.logs())
    assert sum(1 for s in synced.values() if s) >= 2, synced  # 12 parents: shared out

    # the member with the most parents is killed; its parents move to the survivors
    victim = max(members, key=lambda m: len(synced[m]))
    replicas[victim].kill()
    survivors = [m for m in members if m != victim]
    offsets = {m: replicas[m].log_size() for m in survivors}
    eventually(lambda: set(views()) >= set(survivors) and all(
        views().get(m) == frozenset(survivors) for m in survivors),
        what="the survivors publishing a two-member view", timeout=FAILOVER,
        context=lambda: f"{views()}\n{e2e.logs()}")
    for name in names:
        e2e.admin.merge_patch(MEMBER, name, {"spec": {"memberOf": "two-shards"}},
                              e2e.namespace)
    _greeted(e2e, names, " Welcome to two-shards.")
    after = {m: _ours(e2e, replicas[m].planned_for(offsets[m])) for m in survivors}
    for m in survivors:
        expected = {p for p in names if rendezvous_owner(survivors, uids[p]) == m}
        assert after[m] == expected, (m, after, e2e.logs())
    assert synced[victim] <= after[survivors[0]] | after[survivors[1]]
