"""Shard ownership as pure functions: rendezvous hashing and the handoff rule.

Every replica computes the same answer from the same inputs, so these functions must be
deterministic across processes: weights come from ``hashlib`` (Python's ``hash`` is
salted per process). The adapter (``kubeplan.adapters.sharding``) feeds them what it read
from the member Leases; docs/sharding.md states the protocol they implement.

Vocabulary:

- a *view* is a set of member identities a replica believes live;
- a member *publishes* its view in annotations on its own Lease and, by doing so,
  *claims* every parent whose rendezvous owner under that view is itself;
- a member that has not published a readable view claims every parent (unknown is unsafe).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ANNOTATION_MEMBERS",
    "ANNOTATION_MEMBERS_SEEN",
    "LABEL_SHARD_OF",
    "PeerClaim",
    "decode_view",
    "encode_view",
    "may_sync",
    "member_lease_name",
    "rendezvous_owner",
    "rendezvous_weight",
    "view_annotations",
    "view_digest",
    "view_from_annotations",
]

#: Label on every member Lease: which operator's shard set it belongs to.
LABEL_SHARD_OF = "kubeplan.dev/shard-of"
#: The sorted member list the Lease holder has adopted (JSON array of identities).
ANNOTATION_MEMBERS = "kubeplan.dev/members"
#: A short digest of that list, for humans comparing views with ``kubectl get lease``.
ANNOTATION_MEMBERS_SEEN = "kubeplan.dev/members-seen"


def member_lease_name(operator: str, identity: str) -> str:
    """``<operator>-member-<identity>``, the name of one member's own Lease."""
    return f"{operator}-member-{identity}"


def rendezvous_weight(member: str, uid: str) -> int:
    """A stable 64-bit pseudo-random weight for the pair (member, parent uid)."""
    digest = hashlib.blake2b(f"{member}\x00{uid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous_owner(members: Iterable[str], uid: str) -> str | None:
    """Highest-random-weight owner of ``uid`` among ``members`` (None when there are none).

    Removing a member only moves the parents it owned; adding one only moves parents to
    it. Ties (astronomically rare) are broken by identity so the answer stays a function.
    """
    best: tuple[int, str] | None = None
    for member in members:
        key = (rendezvous_weight(member, uid), member)
        if best is None or key > best:
            best = key
    return None if best is None else best[1]


def view_digest(members: Iterable[str]) -> str:
    """A short, order-independent digest of a view (16 hex digits of SHA-256)."""
    text = "\n".join(sorted(set(members)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_view(members: Iterable[str]) -> str:
    return json.dumps(sorted(set(members)), separators=(",", ":"))


def decode_view(text: str | None) -> frozenset[str] | None:
    """The view in an annotation, or None when it is missing or unreadable."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        return None
    return frozenset(value)


def view_annotations(members: Collection[str]) -> dict[str, str]:
    return {ANNOTATION_MEMBERS: encode_view(members), ANNOTATION_MEMBERS_SEEN: view_digest(members)}


def view_from_annotations(annotations: Mapping[str, str]) -> frozenset[str] | None:
    """The published view, or None when absent or when list and digest disagree."""
    view = decode_view(annotations.get(ANNOTATION_MEMBERS))
    if view is None:
        return None
    seen = annotations.get(ANNOTATION_MEMBERS_SEEN)
    if seen is not None and seen != view_digest(view):
        return None
    return view


@dataclass(frozen=True)
class PeerClaim:
    """Another live member and the view it published (None: unknown, so it claims all)."""

    identity: str
    view: frozenset[str] | None

    def claims(self, uid: str) -> bool:
        if self.view is None:
            return True
        return rendezvous_owner(self.view, uid) == self.identity


def may_sync(
    me: str,
    published: Collection[str],
    target: Collection[str],
    live_peers: Iterable[PeerClaim],
    uid: str,
) -> bool:
    """The handoff rule: may ``me`` sync the parent ``uid`` right now?

    ``published`` is the view ``me`` has written to its Lease, ``target`` the view it is
    moving to (equal in steady state), ``live_peers`` the other members whose Leases have
    not expired, read *after* ``me`` last published. ``me`` may sync a parent only when it
    owns it under both its views (a parent it is losing stops at once; one it is gaining
    waits until its view is published) and no live peer still claims it under the view
    that peer published. A peer that expired is ignored: it stopped acting before its
    Lease could expire (it stops after renew_deadline < lease_duration).
    """
    if rendezvous_owner(published, uid) != me or rendezvous_owner(target, uid) != me:
        return False
    owners: dict[frozenset[str], str | None] = {}  # peers mostly share one view: hash it once
    for peer in live_peers:
        if peer.identity == me:
            continue
        if peer.view is None:
            return False
        if peer.view not in owners:
            owners[peer.view] = rendezvous_owner(peer.view, uid)
        if owners[peer.view] == peer.identity:
            return False
    return True
