"""What a handler returns: the children that should exist and the parent's status.

Children and status may be dicts or attrs instances (unstructured with the converter of
``kubeplan.core.convert``: camelCase keys, None fields left out). Nothing is checked here, so that
constructing a response in a handler never raises: ``kubeplan.core.validate`` checks it and
reports every problem with the parent, the child and the field named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["FinalizeResponse", "SyncResponse"]


def _children(value: Any) -> Any:
    """A tuple of the children; a dict or string is kept as is, for validation to reject clearly."""
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    if value is None:
        return ()
    if isinstance(value, Mapping | str | bytes) or not isinstance(value, Iterable):
        return value
    return tuple(value)


@attrs.frozen
class SyncResponse:
    """The desired children (any owned child not listed is deleted), the status, a resync delay.

    ``status=None`` leaves the parent's own status fields as they are (kubeplan still maintains
    ``observedGeneration`` and the ``Synced`` condition). ``resync_after`` is in seconds: sync
    again after that long even if nothing changes (e.g. to poll something outside the cluster).
    """

    children: tuple[Any, ...] = attrs.field(default=(), converter=_children)
    status: Any = None
    resync_after: float | None = None


@attrs.frozen
class FinalizeResponse:
    """What ``finalize`` returns while the parent is being deleted.

    ``children`` is the desired set during teardown (return fewer children on each pass for an
    ordered teardown); ``finalized=True`` lets kubeplan remove its finalizer, after which the
    parent goes away and Kubernetes garbage-collects what is left. ``retry_after`` (seconds)
    asks for another pass even if nothing changes.
    """

    status: Any = None
    finalized: bool = False
    children: tuple[Any, ...] = attrs.field(default=(), converter=_children)
    retry_after: float | None = None
