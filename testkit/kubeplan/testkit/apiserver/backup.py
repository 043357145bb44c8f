"""Backing the fake up and restoring it: the server's state goes back in time.

An etcd restored from a snapshot serves the snapshot's objects at the snapshot's revision:
every resourceVersion a client cached since then is now *ahead* of the server, and nothing
tells the client (a watch from such a resourceVersion waits for the future, silently; a
write answers with a resourceVersion lower than ones the client has seen). A restore also
means the API server restarted: open watches end.

``take_backup(server)`` copies the state (objects and the global resourceVersion);
``restore_backup(server, backup)`` puts it back that way: the objects are replaced, the
resourceVersion goes back to the backup's, the event log is emptied (history before the
backup is compacted: a watch from an older resourceVersion answers 410), open watches end
and the emulated controllers restart. Served types (the registry) are left as they are:
take the backup after the CRDs are installed.
"""

from __future__ import annotations

import attrs

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.apiserver.store import Obj, ObjectKey, Store

__all__ = ["Backup", "restore_backup", "take_backup"]


@attrs.frozen
class Backup:
    """The fake's objects and resourceVersion at one instant (stored dicts are never
    mutated after commit, so sharing them is safe)."""

    rv: int
    objects: dict[str, dict[tuple[str, str], Obj]]

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.objects.values())


def take_backup(server: FakeApiServer) -> Backup:
    """A copy of the server's state now."""
    store = server.store
    return Backup(store.rv, {gr: {key: obj for key, obj in ((key, store.get(gr, *key))
                                                        for key in store.keys(gr))
                                  if obj is not None}
                             for gr in store.group_resources()})


async def restore_backup(server: FakeApiServer, backup: Backup) -> None:
    """Put ``backup`` back as an etcd restore plus an API server restart would (see the
    module docstring). Raises ValueError when the backup is ahead of the server: it
    cannot be from this server's past."""
    store = server.store
    if backup.rv > store.rv:
        raise InvalidArgument(f"restore_backup: the backup's resourceVersion {backup.rv} is ahead "
                         f"of the server's {store.rv}; a backup is always from the past")
    await server.settle()
    await server.stop()  # open watches end, the controllers stop
    _replace(store, backup)
    server.start()


def _replace(store: Store, backup: Backup) -> None:
    # the store's parts, rebuilt from the backup (the store has no public way to go back:
    # a real one never does either)
    store._types = {gr: dict(bucket) for gr, bucket in backup.objects.items()}
    by_uid: dict[str, ObjectKey] = {}
    dependents: dict[str, set[ObjectKey]] = {}
    for gr, bucket in backup.objects.items():
        for (namespace, name), obj in bucket.items():
            meta = obj.get("metadata") or {}
            full_key = (gr, namespace, name)
            if meta.get("uid"):
                by_uid[meta["uid"]] = full_key
            for ref in meta.get("ownerReferences") or ():
                if isinstance(ref, dict) and ref.get("uid"):
                    dependents.setdefault(ref["uid"], set()).add(full_key)
    store._by_uid = by_uid
    store._dependents = dependents
    store.rv = backup.rv
    store._log, store._log_rvs, store._start = [], [], 0
    store.retained_bytes = 0
    store.compacted_rv = backup.rv
    store.watch_cache.restart(backup.rv)  # the restarted server's caches list anew
