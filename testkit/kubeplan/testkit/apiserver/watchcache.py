"""The watch cache's window: the oldest resourceVersion each resource's watches start from.

kube-apiserver serves every watch from its watch cache, one per resource, which holds
a bounded window of that resource's recent changes. A watch from a resourceVersion
older than the window gets one ``ERROR`` event (410 Expired, ``too old resource
version: <asked> (<oldest servable>)``) in a 200 stream, however long the fake's own
event log reaches back. The window, as the cacher keeps it:

* it starts at the resourceVersion its first list saw: the server's start for the
  built-in resources; for a custom resource, the first request that reached its
  storage after the CRD (or a change of its spec) was served, since the storage and
  its cache are made then;
* from there it holds every change until its buffer is full; the buffer starts at
  ``LOWER_BOUND_CAPACITY`` changes and doubles (up to ``UPPER_BOUND_CAPACITY``) when it
  fills while its oldest change is younger than ``EVENT_FRESH_SECONDS``; it halves when
  even its newest quarter is older than that; a change that finds it full pushes the
  oldest out, and from then on the window starts just before the oldest change kept.

A watch from an RV inside the window replays what follows it; initial events
(``sendInitialEvents=true``, or no resourceVersion) come from the current state and
never expire. Time is the server's clock (``monotonic``), so virtual time ages the
window as real time does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = [
    "EVENT_FRESH_SECONDS",
    "LOWER_BOUND_CAPACITY",
    "UPPER_BOUND_CAPACITY",
    "WatchCache",
    "WatchWindow",
]

#: the buffer a resource's watch cache starts with (``defaultLowerBoundCapacity``)
LOWER_BOUND_CAPACITY = 100
#: the most it grows to (``defaultUpperBoundCapacity``)
UPPER_BOUND_CAPACITY = 100 * 1024
#: the history the cache tries to keep, in seconds (``DefaultEventFreshDuration``: the
#: bookmark period plus a margin)
EVENT_FRESH_SECONDS = 75.0


class WatchWindow:
    """One resource's watch cache window: a ring of the RVs and times of its changes."""

    __slots__ = ("_end", "_rvs", "_start", "_times", "capacity", "evicted", "list_rv")

    def __init__(self, list_rv: int) -> None:
        self.list_rv = list_rv
        """The RV the cache's list was read at: changes after it are all kept until the
        buffer first pushes one out."""
        self.capacity = LOWER_BOUND_CAPACITY
        self.evicted = False
        """Whether a change was pushed out since the list (then the window starts at the
        oldest change kept)."""
        self._rvs: list[int] = [0] * self.capacity
        self._times: list[float] = [0.0] * self.capacity
        self._start = 0  # absolute index of the oldest change kept
        self._end = 0  # absolute index one past the newest

    def __len__(self) -> int:
        return self._end - self._start

    def record(self, rv: int, now: float) -> None:
        """Keep a change committed at ``rv`` at clock time ``now`` (seconds)."""
        self._resize(now)
        if self._end - self._start == self.capacity:
            self._start += 1
            self.evicted = True
        slot = self._end % self.capacity
        self._rvs[slot] = rv
        self._times[slot] = now
        self._end += 1

    def _resize(self, now: float) -> None:
        capacity = self.capacity
        if self._end - self._start != capacity:
            return
        if now - self._times[self._start % capacity] < EVENT_FRESH_SECONDS:
            grown = min(capacity * 2, UPPER_BOUND_CAPACITY)
            if grown > capacity:
                self._rebuild(grown)
            return
        if now - self._times[(self._end - capacity // 4) % capacity] > EVENT_FRESH_SECONDS:
            shrunk = max(capacity // 2, LOWER_BOUND_CAPACITY)
            if shrunk < capacity:
                self._start = self._end - shrunk
                self._rebuild(shrunk)

    def _rebuild(self, capacity: int) -> None:
        rvs = [0] * capacity
        times = [0.0] * capacity
        old = self.capacity
        for index in range(self._start, self._end):
            rvs[index % capacity] = self._rvs[index % old]
            times[index % capacity] = self._times[index % old]
        self._rvs, self._times, self.capacity = rvs, times, capacity

    @property
    def oldest(self) -> int:
        """The oldest RV a watch may start from (an older one answers 410 Expired)."""
        if not self.evicted or self._end == self._start:
            return self.list_rv
        return self._rvs[self._start % self.capacity] - 1


class WatchCache:
    """Every resource's window, by group/resource (the store's ``group_resource``).

    ``start_rv`` is where the built-in resources' windows start (the server's start);
    ``is_custom`` tells which group/resources are custom resources (their windows start
    when first served, see ``serve``).
    """

    def __init__(self, start_rv: int = 0) -> None:
        self.start_rv = start_rv
        self.is_custom: Callable[[str], bool] = lambda group_resource: False
        self._windows: dict[str, WatchWindow] = {}

    def window(self, group_resource: str) -> WatchWindow | None:
        return self._windows.get(group_resource)

    def serve(self, group_resource: str, rv: int) -> bool:
        """A request reached a resource while the store is at ``rv``: a custom
        resource's cache is made (and lists at ``rv``) by its first request. True when
        this request made it (then the cache is still initialising: a watch answers
        429)."""
        if group_resource in self._windows:
            return False
        self._make(group_resource, rv)
        return self.is_custom(group_resource)

    def _make(self, group_resource: str, rv: int) -> WatchWindow:
        start = rv if self.is_custom(group_resource) else self.start_rv
        window = self._windows[group_resource] = WatchWindow(start)
        return window

    def record(self, group_resource: str, rv: int, now: float) -> None:
        """A change committed at ``rv`` (clock seconds ``now``). One no request led to
        (an emulated controller's) makes a custom resource's cache just before it."""
        window = self._windows.get(group_resource)
        if window is None:
            window = self._make(group_resource, rv - 1)
        window.record(rv, now)

    def oldest(self, group_resource: str, rv: int) -> int:
        """The oldest RV a watch of the resource may start from (the store at ``rv``)."""
        window = self._windows.get(group_resource)
        if window is None:
            window = self._make(group_resource, rv)
        return window.oldest

    def forget(self, group_resources: Iterable[str]) -> None:
        """Drop resources' caches (a CRD's storage torn down: its next request lists anew)."""
        for gr in group_resources:
            self._windows.pop(gr, None)

    def restart(self, rv: int) -> None:
        """Every cache lists again at ``rv`` (the server restarted on a restored store)."""
        self._windows.clear()
        self.start_rv = rv
