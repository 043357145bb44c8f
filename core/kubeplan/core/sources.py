"""External sources: inputs an operator reads from outside Kubernetes, polled by the runtime.

A source is described here, as plain frozen data; the adapters poll it
(``kubeplan.adapters.sources``). The contract is the one of related objects: the handler
is handed the source's current items as a read-only input, and a change at the source
syncs exactly the parents that read the changed items::

    config = OperatorConfig("mirror", Mirror).with_source(
        "prices",
        HttpSource("https://prices.example.com/items", id_field="sku", interval=30),
        select=lambda parent: parent["spec"]["skus"],   # or True: every item
    )

    def sync(request):
        prices = request.sources["prices"]     # a SourceItems: id -> item, read-only
        item = prices.get("sku-1")

``select(parent)`` is a pure function of the parent: True reads every item, a collection
of ids reads those items, False or None reads nothing (the parent is not synced by the
source's changes and gets an empty ``SourceItems``). Without ``select`` every parent reads
every item.

A source that fails (unreachable, an error answer, a body that is not a list of items)
never makes the handler see an empty list: the parents that read it are not handed to the
handler, keep their children, and get ``Synced=False`` with reason ``SourceUnavailable``
and the poller's message (``SourceError``), until the source answers again.

Everything in this module is pure: descriptions, parsing a JSON body into items,
``diff_items`` (Added / Modified / Removed between two polls) and ``SourceIndex`` (which
parents read which items).
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import attrs

from kubeplan.core.errors import InvalidArgument, KubeplanError, WrongArgumentType

__all__ = [
    "ALL_ITEMS",
    "HttpSource",
    "ObjectStoreSource",
    "SecretKeyRef",
    "Source",
    "SourceChange",
    "SourceDeclaration",
    "SourceError",
    "SourceIndex",
    "SourceItems",
    "diff_items",
    "items_from_json",
    "resolve_source_selection",
]

Item = Mapping[str, Any]
SourceSelect = Callable[[Mapping[str, Any]], Any]

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SOURCE_REASON = "SourceUnavailable"


class SourceError(KubeplanError):
    """A source could not be read (or a parent's ``select`` failed on it): the parents that
    read it get ``Synced=False`` with ``reason`` and this message; no child is touched."""

    def __init__(self, source: str, message: str, *, reason: str = _SOURCE_REASON) -> None:
        self.source = source
        self.reason = reason
        self.message = f"source {source!r}: {message}"
        super().__init__(self.message)

    def __reduce__(self) -> Any:
        return (_rebuild_source_error, (self.source, self.message, self.reason))


def _rebuild_source_error(source: str, message: str, reason: str) -> SourceError:
    error = SourceError(source, "", reason=reason)
    error.message = message
    error.args = (message,)
    return error


# -- descriptions -----------------------------------------------------------------------


def _positive(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WrongArgumentType(f"{name} is a number of seconds, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise InvalidArgument(f"{name} must be a positive number of seconds, got {value!r}")

    return check


def _fraction(_instance: Any, _attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongArgumentType(f"jitter is a fraction of the interval, got {value!r}")
    if not 0 <= value < 1:
        raise InvalidArgument(f"jitter must be at least 0 and below 1, got {value!r}")


def _non_empty(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidArgument(f"{name} must be a non-empty string, got {value!r}")

    return check


def _optional_str(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidArgument(f"{name} must be a non-empty string or None, got {value!r}")

    return check


def _http_url(_instance: Any, _attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not re.match(r"https?://[^/\s]+", value):
        raise InvalidArgument(f"url must be an http:// or https:// URL, got {value!r}")


@attrs.frozen
class SecretKeyRef:
    """One key of a Secret, read at each poll; ``namespace`` None means the operator's own
    namespace (``POD_NAMESPACE``, else ``default``)."""

    name: str = attrs.field(validator=_non_empty("SecretKeyRef.name"))
    key: str = attrs.field(default="token", validator=_non_empty("SecretKeyRef.key"))
    namespace: str | None = attrs.field(default=None,
                                        validator=_optional_str("SecretKeyRef.namespace"))


@attrs.frozen
class HttpSource:
    """A JSON list of items behind an HTTP(S) URL, polled with conditional GETs.

    The body is a JSON list of objects, or an object holding the list under
    ``items_field`` (a dotted path such as ``"data.items"``); every item has a unique
    string or integer ``id_field``. Each poll sends ``If-None-Match`` with the last ETag
    and ``If-Modified-Since`` with the last ``Last-Modified``, so an unchanged source
    costs one request answered 304. ``token_file`` (re-read at each poll, so a rotated
    token is picked up) or ``token_secret`` gives a bearer token. Polls are ``interval``
    seconds apart, scaled by a random factor within ``1 ± jitter``; a failure is retried
    after an exponential backoff from ``backoff_base`` up to ``backoff_cap``. Each request
    gives up after ``timeout`` seconds.
    """

    kind: ClassVar[str] = "http"

    url: str = attrs.field(validator=_http_url)
    id_field: str = attrs.field(default="id", validator=_non_empty("id_field"))
    interval: float = attrs.field(default=30.0, validator=_positive("interval"))
    items_field: str | None = attrs.field(default=None, validator=_optional_str("items_field"))
    token_file: str | None = attrs.field(default=None, validator=_optional_str("token_file"))
    token_secret: SecretKeyRef | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(SecretKeyRef)),
    )
    timeout: float = attrs.field(default=10.0, validator=_positive("timeout"))
    jitter: float = attrs.field(default=0.1, validator=_fraction)
    backoff_base: float = attrs.field(default=1.0, validator=_positive("backoff_base"))
    backoff_cap: float = attrs.field(default=300.0, validator=_positive("backoff_cap"))

    def __attrs_post_init__(self) -> None:
        if self.token_file is not None and self.token_secret is not None:
            raise InvalidArgument("give token_file or token_secret, not both")

    def describe(self) -> str:
        return self.url


@attrs.frozen
class ObjectStoreSource:
    """The objects of an S3-compatible bucket under ``prefix``, listed with ListObjectsV2.

    Each object is an item keyed by its key: ``{"key", "etag", "size", "lastModified"}``
    (``lastModified`` in RFC 3339, UTC). ``endpoint`` is the store's URL (None: AWS for
    ``region``); credentials come from botocore's usual chain (environment, shared files,
    the pod's role). Needs the ``s3`` extra (``pip install 'kubeplan-adapters[s3]'``).
    Interval, jitter, timeout and backoff as for ``HttpSource``.
    """

    kind: ClassVar[str] = "s3"
    id_field: ClassVar[str] = "key"

    bucket: str = attrs.field(validator=_non_empty("bucket"))
    prefix: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    endpoint: str | None = attrs.field(default=None, validator=_optional_str("endpoint"))
    region: str = attrs.field(default="us-east-1", validator=_non_empty("region"))
    interval: float = attrs.field(default=60.0, validator=_positive("interval"))
    timeout: float = attrs.field(default=10.0, validator=_positive("timeout"))
    jitter: float = attrs.field(default=0.1, validator=_fraction)
    backoff_base: float = attrs.field(default=1.0, validator=_positive("backoff_base"))
    backoff_cap: float = attrs.field(default=300.0, validator=_positive("backoff_cap"))

    def __attrs_post_init__(self) -> None:
        if self.endpoint is not None and not re.match(r"https?://[^/\s]+", self.endpoint):
            raise InvalidArgument(
                f"endpoint must be an http:// or https:// URL or None, got {self.endpoint!r}")

    def describe(self) -> str:
        where = self.endpoint or f"s3.{self.region}"
        return f"{where}/{self.bucket}/{self.prefix}"


Source = HttpSource | ObjectStoreSource


def _every_parent(_parent: Mapping[str, Any]) -> bool:
    return True


@attrs.frozen
class SourceDeclaration:
    """One declared source: what it is and which of its items a parent reads."""

    source: Source
    select: SourceSelect = attrs.field(default=_every_parent, eq=False)


def check_source_name(name: Any) -> str:
    if not isinstance(name, str) or len(name) > 63 or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"source name {name!r} is not a DNS-1123 label (lower-case letters, digits "
            "and '-', at most 63 characters)")
    return name


def check_declaration(name: Any, declaration: Any) -> None:
    check_source_name(name)
    if not isinstance(declaration, SourceDeclaration):
        raise WrongArgumentType(f"source {name!r} must be a SourceDeclaration, got "
                                f"{declaration!r}")
    if not isinstance(declaration.source, HttpSource | ObjectStoreSource):
        raise WrongArgumentType(
            f"source {name!r} is an HttpSource or an ObjectStoreSource, got "
            f"{declaration.source!r}")
    if not callable(declaration.select):
        raise WrongArgumentType(
            f"the select of source {name!r} must be a function select(parent) -> True | "
            f"ids | None, got {declaration.select!r}")


# -- items ------------------------------------------------------------------------------


@attrs.frozen
class SourceChange:
    """The ids added, modified and removed between two readings, each sorted."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.modified or self.removed)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((*self.added, *self.modified, *self.removed))

    def describe(self, limit: int = 5) -> str:
        """``added a, b; modified c; removed d`` (at most ``limit`` ids each)."""
        parts = []
        for verb, ids in (("added", self.added), ("modified", self.modified),
                          ("removed", self.removed)):
            if ids:
                shown = ", ".join(ids[:limit])
                more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
                parts.append(f"{verb} {shown}{more}")
        return "; ".join(parts) or "unchanged"


def diff_items(old: Mapping[str, Item], new: Mapping[str, Item]) -> SourceChange:
    """What changed from ``old`` to ``new`` (id -> item): ids only in ``new`` were added,
    ids in both whose items differ were modified, ids only in ``old`` were removed."""
    added = sorted(k for k in new if k not in old)
    removed = sorted(k for k in old if k not in new)
    modified = sorted(k for k, v in new.items() if k in old and old[k] != v)
    return SourceChange(tuple(added), tuple(modified), tuple(removed))


class SourceItems(Mapping[str, Item]):
    """A source's items as one parent reads them: id -> item, read-only, sorted by id.

    ``change`` is what changed in them since this parent's previous sync (empty on the
    first one); plans name it (``Plan.inputs``)."""

    __slots__ = ("_items", "change", "name")

    def __init__(self, name: str, items: Mapping[str, Item] | None = None,
                 change: SourceChange | None = None) -> None:
        self.name = name
        self._items: Mapping[str, Item] = MappingProxyType(dict(sorted((items or {}).items())))
        self.change = change if change is not None else SourceChange()

    def __getitem__(self, key: str) -> Item:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SourceItems):
            return self.name == other.name and dict(self._items) == dict(other._items)
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SourceItems({self.name!r}, {list(self._items)!r})"


def _id_of(item: Any, id_field: str, where: str, index: int) -> str:
    if not isinstance(item, Mapping):
        raise InvalidArgument(f"{where}: item [{index}] is not an object: {item!r:.80}")
    value = item.get(id_field)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise InvalidArgument(
            f"{where}: item [{index}] has no string or integer {id_field!r} (the id field): "
            f"{item!r:.80}")
    return str(value)


def items_from_json(body: Any, *, id_field: str, items_field: str | None = None,
                    where: str = "the body") -> dict[str, Item]:
    """The items of a decoded JSON body, keyed by ``id_field``.

    Raises ``InvalidArgument`` naming ``where``, the item's index and the field when the
    body holds no list, an item is not an object, has no id, or repeats one."""
    found = body
    if items_field is not None:
        for part in items_field.split("."):
            if not isinstance(found, Mapping) or part not in found:
                raise InvalidArgument(f"{where}: no field {items_field!r} holding the items")
            found = found[part]
    if not isinstance(found, list):
        what = f"field {items_field!r}" if items_field else "the top level"
        raise InvalidArgument(f"{where}: {what} is not a JSON list of items "
                              f"(got {type(found).__name__})")
    out: dict[str, Item] = {}
    for index, item in enumerate(found):
        key = _id_of(item, id_field, where, index)
        if key in out:
            raise InvalidArgument(f"{where}: item [{index}] repeats {id_field} {key!r}")
        out[key] = item
    return out


# -- which parents read what -----------------------------------------------------------


class _All:
    """Every item of a source (``select`` returned True)."""

    _instance: ClassVar[_All | None] = None

    def __new__(cls) -> _All:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ALL_ITEMS"


ALL_ITEMS = _All()
Selection = frozenset[str] | _All


def resolve_source_selection(
    sources: Mapping[str, SourceDeclaration], parent: Mapping[str, Any], describe: str = ""
) -> dict[str, Selection]:
    """Which items of each source ``parent`` reads (sources it does not read are left
    out). Raises ``SourceError`` (reason ``SourceSelectFailed``) when a select function
    raises or returns something else than a bool, None or a collection of ids."""
    out: dict[str, Selection] = {}
    who = describe or f"{parent.get('kind')} {(parent.get('metadata') or {}).get('name')!r}"
    for name, declaration in sources.items():
        try:
            value = declaration.select(parent)
        except Exception as exc:
            raise SourceError(name, f"select raised on {who}: {type(exc).__name__}: {exc}",
                              reason="SourceSelectFailed") from exc
        if value is True:
            out[name] = ALL_ITEMS
        elif value is None or value is False:
            continue
        elif isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
            ids = list(value)
            if not all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids):
                raise SourceError(name, f"select returned {ids!r:.80} on {who}; return True, "
                                  "None or a list of string ids", reason="SourceSelectFailed")
            out[name] = frozenset(str(i) for i in ids)
        else:
            raise SourceError(name, f"select returned {value!r:.80} on {who}; return True, "
                              "None or a list of string ids", reason="SourceSelectFailed")
    return out


def selected_items(items: Mapping[str, Item], selection: Selection) -> dict[str, Item]:
    """The items a selection reads."""
    if isinstance(selection, _All):
        return dict(items)
    return {k: items[k] for k in selection if k in items}


class SourceIndex:
    """Reverse index: which parents read which items of which source.

    ``set(key, selections)`` records a parent's selections, ``remove(key)`` forgets it,
    ``affected(name, ids)`` lists the parents that read any of ``ids`` (None: any item).
    """

    def __init__(self) -> None:
        self._selections: dict[Any, dict[str, Selection]] = {}
        self._by_id: dict[tuple[str, str], set[Any]] = {}
        self._all: dict[str, set[Any]] = {}

    def __len__(self) -> int:
        return len(self._selections)

    def selections(self, key: Any) -> dict[str, Selection]:
        return dict(self._selections.get(key) or {})

    def set(self, key: Any, selections: Mapping[str, Selection]) -> None:
        self.remove(key)
        if not selections:
            return
        self._selections[key] = dict(selections)
        for name, selection in selections.items():
            if isinstance(selection, _All):
                self._all.setdefault(name, set()).add(key)
            else:
                for item_id in selection:
                    self._by_id.setdefault((name, item_id), set()).add(key)

    def remove(self, key: Any) -> None:
        old = self._selections.pop(key, None)
        for name, selection in (old or {}).items():
            if isinstance(selection, _All):
                _discard(self._all, name, key)
            else:
                for item_id in selection:
                    _discard(self._by_id, (name, item_id), key)

    # builtins.set: in the class body ``set`` is the method above
    def affected(self, name: str, ids: Iterable[str] | None) -> builtins.set[Any]:
        """The parents reading any of ``ids`` of source ``name`` (None: every reader)."""
        found = set(self._all.get(name, ()))
        if ids is None:
            found |= {k for k, sel in self._selections.items() if name in sel}
            return found
        for item_id in ids:
            found |= self._by_id.get((name, item_id), set())
        return found


def _discard(index: dict[Any, set[Any]], slot: Any, key: Any) -> None:
    keys = index.get(slot)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[slot]
