"""Routing of resource paths to verbs, and the read side (get, list, watch).

``parse_route`` turns ``/api/v1/namespaces/ns/configmaps/x`` into a ``Route``
(resource, namespace, name, subresource, verb) the way the real server's
RequestInfoResolver does; unknown paths, resources and subresources are 404s.
List implements the resourceVersion table of the API concepts doc, including exact
snapshots at an older RV (rebuilt from the event log) so ``continue`` pages are
consistent, and resourceVersion=0 as the watch cache answers it (no paging); items of
built-in lists carry no apiVersion or kind, as typed Go lists write them; watch
parameters are validated here and the stream itself is ``watch.watch_events``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.pathnames import check_path_names
from kubeplan.testkit.apiserver.registry import BASE_FIELDS, Registry, ResourceInfo, RouteKey
from kubeplan.testkit.apiserver.store import Obj, Store
from kubeplan.testkit.apiserver.watch import WatchSpec
from kubeplan.testkit.apiserver.writes import Target

__all__ = [
    "Route",
    "check_get_rv",
    "list_items",
    "list_objects",
    "parse_bool",
    "parse_route",
    "parse_rv",
    "watch_spec",
]

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
#: Subresources that take only a create (a POST to ``.../NAME/<sub>``).
CREATE_SUBRESOURCES = frozenset({"token", "eviction"})
#: ``WatchSpec.start_rv`` placeholder the server replaces with its current RV.
CURRENT_RV = -1


@attrs.frozen
class Route:
    """A parsed resource path plus the verb the method and query make of it."""

    target: Target
    verb: str
    all_namespaces: bool = False

    @property
    def info(self) -> ResourceInfo:
        return self.target.info


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise status.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


#: routes kept per registry (by method, path and watch parameter); emptied when full
_ROUTE_CACHE_SIZE = 4096


def parse_route(registry: Registry, method: str, path: str, query: Mapping[str, str]) -> Route:
    """Resolve a resource path (404 for anything the server does not serve).

    A route depends only on the method, the path, the ``watch`` parameter and the served
    resources, so the registry keeps the routes it resolved until its served set changes
    (refusals are not kept: they are raised anew each time).
    """
    key = (method, path, query.get("watch"))
    cache: dict[RouteKey, Route] = registry.route_cache()
    route = cache.get(key)
    if route is None:
        route = _parse_route(registry, method, path, query)
        if len(cache) >= _ROUTE_CACHE_SIZE:
            cache.clear()
        cache[key] = route
    return route


def _parse_route(registry: Registry, method: str, path: str, query: Mapping[str, str]) -> Route:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise status.not_found_path()
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
    if not rest:
        raise status.not_found_path()
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES and not group)
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise status.not_found_path()
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    info = registry.lookup(group, version, plural)
    if info is None:
        raise status.not_found_path()
    if namespace is not None and not info.namespaced:
        raise status.not_found_path()
    if info.namespaced and namespace is None and name is not None:
        raise status.not_found_path()
    if sub is not None and sub not in info.subresources:
        raise status.not_found_path()
    all_namespaces = info.namespaced and namespace is None
    target = Target(info, namespace or "", name, sub)
    method = method.upper()
    if method == "GET":
        if name is None:
            watch = legacy_watch or parse_bool(query.get("watch"))
            verb = "watch" if watch else "list"
        else:
            verb = "watch" if legacy_watch else "get"
    elif legacy_watch:
        raise status.method_not_supported("", "", "")
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name is not None else "deletecollection"
    else:
        raise status.method_not_supported("", "", "")
    if verb == "create" and (
        (name is not None and sub not in CREATE_SUBRESOURCES) or all_namespaces
    ):
        raise status.method_not_supported("", "", "")
    if sub in CREATE_SUBRESOURCES and verb != "create":
        raise status.method_not_supported("", "", "")
    if verb in ("update", "patch") and name is None:
        raise status.method_not_supported("", "", "")
    if verb == "deletecollection" and all_namespaces:
        verb = "deletecollection"
    if sub == "finalize" and verb != "update":
        raise status.method_not_supported("", "", "")
    if sub is not None and verb not in ("get", "update", "patch", "create"):
        raise status.method_not_supported("", "", "")
    # Custom resources of a terminating CRD lose verbs in discovery only: their create
    # answers 403 from the write path (the message clients know).
    if not info.custom and verb not in info.verbs and sub is None:
        if info.verbs == ("create",):  # a review: only its POST route exists
            raise status.method_not_supported("", "", "")
        raise status.method_not_supported(info.plural, info.group, verb)
    check_path_names(info, namespace, name, verb)
    return Route(target, verb, all_namespaces)


# --- selectors ----------------------------------------------------------------------------


def parse_selectors(info: ResourceInfo, query: Mapping[str, str]) -> tuple[Any, Any]:
    """The label and field selectors of a list/watch (None when absent), 400 when bad."""
    from kubeplan.testkit.apiserver.selectors import (
        SelectorError,
        parse_field_selector,
        parse_label_selector,
    )

    label = field = None
    try:
        if query.get("labelSelector"):
            label = parse_label_selector(query["labelSelector"])
        if query.get("fieldSelector"):
            field = parse_field_selector(query["fieldSelector"], info.field_selectors)
    except SelectorError as exc:
        message = str(exc)
        prefix = "field label not supported: "
        if message.startswith(prefix) and not info.custom and info.field_selectors == BASE_FIELDS:
            bad = message[len(prefix) :]
            message = (
                f'"{bad}" is not a known field selector: only "metadata.name", "metadata.namespace"'
            )
        raise status.bad_request(message) from None
    return label, field


_MAX_UINT64 = 2**64 - 1


def parse_rv(value: str, *, listing: bool = False) -> int:
    """A resourceVersion query parameter as the real server parses it (``ParseUint``).

    400 when it is not one. The real server answers a list with 400 and this message
    (prefixed "invalid resource version: "), a get or watch with 500 and the same
    message (kept as 400 here: see tests/differential/known_differences.yaml).
    """
    if value.isascii() and value.isdigit():
        number = int(value)
        if number <= _MAX_UINT64:
            return number
        problem = "value out of range"
    else:
        problem = "invalid syntax"
    message = (
        f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: parsing '
        f'"{value}": {problem}'
    )
    raise status.bad_request(f"invalid resource version: {message}" if listing else message)


def check_get_rv(store: Store, query: Mapping[str, str]) -> None:
    """A GET's resourceVersion: a number (400), not beyond the store's (504)."""
    rv_text = query.get("resourceVersion") or ""
    if rv_text and rv_text != "0":
        wanted = parse_rv(rv_text)
        if wanted > store.rv:
            raise _too_large(wanted, store.rv)


def _too_large(wanted: int, current: int) -> status.StatusError:
    return status.timeout(
        f"Too large resource version: {wanted}, current: {current}",
        causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
    )


def _list_options_invalid(field: str, detail: str) -> status.StatusError:
    return status.invalid(
        "ListOptions",
        "meta.k8s.io",
        "",
        [status.cause("FieldValueForbidden", field, f"Forbidden: {detail}")],
    )


# --- list ---------------------------------------------------------------------------------


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": [key[0], key[1]]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = orjson.loads(raw)
        if doc.get("v") != "meta.k8s.io/v1":
            raise InvalidArgument("unsupported version")
        rv = int(doc["rv"])
        start = doc["start"]
        key = (str(start[0]), str(start[1]))
    except (binascii.Error, ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError):
        raise status.bad_request(
            "continue key is not valid: the continue token is malformed"
        ) from None
    return rv, key


def list_objects(
    store: Store,
    route: Route,
    query: Mapping[str, str],
    present: Any,
    present_all: Any = None,
) -> dict[str, Any]:
    """A ``<Kind>List`` honouring selectors, limit/continue and resourceVersion.

    ``present`` shows one stored object as the request's version; ``present_all``, when
    given, shows the page's objects at once (one ConversionReview for a whole list, as the
    real server sends)."""
    info = route.info
    if "sendInitialEvents" in query:
        raise _list_options_invalid("sendInitialEvents", "sendInitialEvents is forbidden for list")
    label, field = parse_selectors(info, query)
    limit_text = query.get("limit") or "0"
    try:
        limit = int(limit_text)
    except ValueError:
        raise status.bad_request(f'limit: Invalid value: "{limit_text}"') from None
    limit = max(limit, 0)
    token = query.get("continue") or ""
    rv_text = query.get("resourceVersion") or ""
    if rv_text == "0":
        # "any version": the real server answers from its watch cache, which ignores the
        # limit (cacher's computeListLimit): the whole list in one page, no continue
        limit = 0
    rv_match = query.get("resourceVersionMatch") or ""
    if rv_match:
        if rv_match not in ("NotOlderThan", "Exact"):
            raise status.invalid(
                "ListOptions",
                "meta.k8s.io",
                "",
                [
                    status.cause(
                        "FieldValueNotSupported",
                        "resourceVersionMatch",
                        f'Unsupported value: "{rv_match}": supported values: "Exact", '
                        '"NotOlderThan"',
                    )
                ],
            )
        if not rv_text:
            raise _list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        if token:
            raise _list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            )
        if rv_match == "Exact" and rv_text == "0":
            raise _list_options_invalid(
                "resourceVersionMatch",
                'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
            )
    gr = info.group_resource
    namespace = None if route.all_namespaces or not info.namespaced else route.target.namespace
    start_after: tuple[str, str] | None = None
    if token:
        if rv_text and rv_text != "0":
            raise status.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        snap_rv, start_after = _decode_continue(token)
        if snap_rv < store.compacted_rv:
            raise status.expired(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter, or use the continue "
                "token in this response to retrieve the remainder of the results. Continuing "
                "with the provided token results in an inconsistent list - objects that were "
                "created, modified, or deleted between the time the first chunk was returned "
                "and now may show up in the list."
            )
        state = store.snapshot(gr, snap_rv) if snap_rv < store.rv else None
    else:
        snap_rv = store.rv
        state = None
        if rv_text and rv_text != "0":
            wanted = parse_rv(rv_text, listing=True)
            if wanted > store.rv:
                raise _too_large(wanted, store.rv)
            exact = rv_match == "Exact" or (limit > 0 and rv_match != "NotOlderThan")
            if exact and wanted < store.rv:
                if wanted < store.compacted_rv:
                    raise status.expired(
                        f"too old resource version: {wanted} ({store.oldest_retained_rv})"
                    )
                state = store.snapshot(gr, wanted)
                snap_rv = wanted
    if state is None:
        objects = store.objects(gr, namespace)
    else:
        objects = [state[k] for k in sorted(state) if namespace is None or k[0] == namespace]
    items: list[Obj] = []
    remaining = 0
    last_key: tuple[str, str] | None = None
    more = False
    for obj in objects:
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        if start_after is not None and key <= start_after:
            continue
        if label is not None and not label.matches(meta.get("labels") or {}):
            continue
        if field is not None and not field.matches(obj):
            continue
        if limit and len(items) >= limit:
            more = True
            remaining += 1
            if label is not None or field is not None:
                break
            continue
        items.append(obj)
        last_key = key
    list_meta: dict[str, Any] = {"resourceVersion": str(snap_rv)}
    if more and last_key is not None:
        list_meta["continue"] = _encode_continue(snap_rv, last_key)
        if label is None and field is None:
            list_meta["remainingItemCount"] = remaining
    elif info.custom:
        # an unstructured list writes every field it was given, the empty continue too
        list_meta["continue"] = ""
    return {
        "kind": info.list_kind,
        "apiVersion": info.api_version,
        "metadata": list_meta,
        "items": list_items(items, info, present, present_all),
    }


def list_items(objects: list[Obj], info: ResourceInfo, present: Any,
               present_all: Any = None) -> list[Obj]:
    """A list's items as the real server writes them: a built-in list is a typed Go list
    whose items' TypeMeta is empty, so they carry no apiVersion or kind; a list of custom
    resources is unstructured and keeps both on every item. ``present_all`` presents them
    all at once (one conversion review for a list of another version)."""
    shown = (present_all(objects, info) if present_all is not None
             else [present(o, info) for o in objects])
    if info.custom:
        return shown
    return [{k: v for k, v in obj.items() if k != "apiVersion" and k != "kind"}
            for obj in shown]


# --- watch --------------------------------------------------------------------------------


def watch_spec(
    route: Route,
    query: Mapping[str, str],
    *,
    bookmark_interval: float,
    default_timeout: float = 1800.0,
) -> WatchSpec:
    """Validate watch parameters into a ``WatchSpec``."""
    info = route.info
    label, field = parse_selectors(info, query)
    target = route.target
    if target.name is not None:  # legacy /watch/.../name
        from kubeplan.testkit.apiserver.selectors import parse_field_selector

        by_name = parse_field_selector(f"metadata.name={target.name}", info.field_selectors)
        field = by_name if field is None else field
    rv_text = query.get("resourceVersion") or ""
    rv_match = query.get("resourceVersionMatch") or ""
    send_initial_raw = query.get("sendInitialEvents")
    send_initial = parse_bool(send_initial_raw) if send_initial_raw is not None else None
    if send_initial is not None and rv_match != "NotOlderThan":
        raise _list_options_invalid(
            "sendInitialEvents",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        )
    if rv_match and send_initial is None:
        raise _list_options_invalid(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        )
    timeout_text = query.get("timeoutSeconds")
    timeout = default_timeout
    if timeout_text:
        try:
            timeout = float(int(timeout_text)) or default_timeout  # 0 means "the default"
        except ValueError:
            raise status.bad_request(f'timeoutSeconds: Invalid value: "{timeout_text}"') from None
    start_rv: int | None = None
    if rv_text and rv_text != "0":
        start_rv = parse_rv(rv_text)
    if send_initial is False and start_rv is None:
        start_rv = CURRENT_RV  # "most recent" without initial events: from the current RV
    return WatchSpec(
        info=info,
        namespace=None if route.all_namespaces or not info.namespaced else target.namespace,
        label_selector=label,
        field_selector=field,
        start_rv=start_rv,
        send_initial_events=bool(send_initial),
        allow_bookmarks=parse_bool(query.get("allowWatchBookmarks")),
        timeout_seconds=timeout,
        bookmark_interval=bookmark_interval,
    )
