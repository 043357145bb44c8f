"""``FakeApiServer``: the store, its semantics and the emulated controllers behind one
``handle(ApiRequest) -> ApiResponse`` entry point.

Both faces (HTTP in ``http.py``, in-process in ``inproc.py``) call ``handle``, which
resolves the path, applies injected faults, runs the verb and logs the request. It
never raises for anything a client sends: client mistakes become ``kind: Status``
responses, and an unexpected exception becomes a 500 Status while the store stays
consistent (writes build the new object completely before one commit call).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any

import attrs

from kubeplan.core.errors import UsageError
from kubeplan.testkit.apiserver import authn, eviction, rbac, reviews, scale, status, tokens
from kubeplan.testkit.apiserver.admission import AdmissionWebhooks
from kubeplan.testkit.apiserver.clock import Clock, SystemClock
from kubeplan.testkit.apiserver.codec import copy_obj, decode_object
from kubeplan.testkit.apiserver.controllers import DEFAULT_CONTROLLERS, ControllerManager
from kubeplan.testkit.apiserver.conversion import ConversionWebhooks
from kubeplan.testkit.apiserver.dispatch import (
    CURRENT_RV,
    Route,
    check_get_rv,
    list_items,
    list_objects,
    parse_bool,
    parse_route,
    parse_selectors,
    watch_spec,
)
from kubeplan.testkit.apiserver.faults import Fault, FaultInjector
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse, RequestRecord
from kubeplan.testkit.apiserver.store import DEFAULT_LOG_BYTES, Obj, Store
from kubeplan.testkit.apiserver.watch import WatchSpec, watch_events
from kubeplan.testkit.apiserver.writes import (
    Target,
    WriteOptions,
    Writer,
    WriteResult,
    parse_delete_options,
)

__all__ = ["FakeApiServer"]

log = logging.getLogger(__name__)

_BODY_TYPES = ("application/json", "application/yaml")
_INITIAL_NAMESPACES = ("default", "kube-system", "kube-public")


def _as_is(obj: Obj, info: ResourceInfo) -> Obj:
    """Objects already presented (a deletecollection's answers)."""
    return obj


def _media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


class FakeApiServer:
    """An in-memory Kubernetes API server with the real server's semantics.

    ``controllers``: ``True`` (the default ones: ``"garbagecollector"``, ``"namespace"``,
    ``"crd"``), ``False`` (none) or a set of names from those and the opt-in
    ``"serviceaccount"`` and ``"rootca"`` (a namespace's ``default`` ServiceAccount and
    ``kube-root-ca.crt`` ConfigMap, as a real cluster's controllers make them; opt-in
    because most tests expect a namespace to hold only what they wrote), ``"kubelet"``
    (pods bound, started and made Ready; ``kubelet.py``) and ``"workloads"``
    (ReplicaSets, Deployments and StatefulSets make their pods and report their status;
    ``workloads.py``); ``CONTROLLERS`` in ``controllers.py`` names every one.
    ``bookmark_interval`` is the clock time between watch bookmarks (60 s upstream).
    ``seed`` makes generated names and uids reproducible. The event log (watch
    resumption, 410 beyond it) keeps at most ``event_log_size`` changes and
    ``event_log_bytes`` of their objects.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        event_log_size: int = 10_000,
        event_log_bytes: int = DEFAULT_LOG_BYTES,
        controllers: bool | set[str] | frozenset[str] = True,
        max_object_bytes: int = 1_572_864,
        max_request_bytes: int = 3 * 1024 * 1024,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        request_log_size: int = 10_000,
        seed: int | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.store = Store(event_log_size, event_log_bytes, monotonic=self.clock.monotonic)
        self.registry = Registry()
        builtins = frozenset(info.group_resource for info in self.registry.resources())
        watch_cache = self.store.watch_cache  # the built-ins' list before any write
        watch_cache.is_custom = lambda gr: gr not in builtins
        self.registry.on_drop.append(
            lambda infos: watch_cache.forget(info.group_resource for info in infos))
        self.faults = FaultInjector()
        self.requests: list[RequestRecord] = []
        self.request_log_size = request_log_size
        #: called with every request's record as it is logged (the testkit's progress
        #: guard counts them); an observer must not raise or await
        self.request_observers: list[Callable[[RequestRecord], None]] = []
        self.max_request_bytes = max_request_bytes
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self._rng = random.Random(seed)
        #: the key TokenRequest tokens are signed with and verified by (``authn.py``)
        self.token_key = authn.new_key(seed)
        self.writer = Writer(
            self.store, self.registry, self.clock, rng=self._rng, max_object_bytes=max_object_bytes
        )
        enabled: Iterable[str]
        if controllers is True:
            enabled = DEFAULT_CONTROLLERS
        elif controllers is False:
            enabled = ()
        else:
            enabled = controllers
        self.controllers = ControllerManager(self.store, self.registry, self.writer, enabled)
        self._closing = asyncio.Event()
        self._stopped = False
        ns_info = self.registry.lookup("", "v1", "namespaces")
        assert ns_info is not None
        for name in _INITIAL_NAMESPACES:
            self.writer.create(
                Target(ns_info),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                WriteOptions(manager="kube-apiserver"),
            )

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the emulated controllers (needs a running event loop)."""
        if self._closing.is_set():
            self._closing = asyncio.Event()
        self._stopped = False
        self.controllers.start()

    async def stop(self) -> None:
        """Stop the controllers and end every open watch stream."""
        self._stopped = True
        self._closing.set()
        await self.controllers.stop()

    async def __aenter__(self) -> FakeApiServer:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def settle(self, max_rounds: int = 100_000) -> None:
        """Wait until the emulated controllers have processed every change."""
        if not self.controllers.enabled:
            return
        if not self.controllers.running:
            self.start()
        quiet = 0
        for _ in range(max_rounds):
            await asyncio.sleep(0)
            if self.controllers.idle:
                quiet += 1
                if quiet >= 2:
                    return
            else:
                quiet = 0
        raise UsageError("the emulated controllers did not settle (a write loop?)")

    def client(self) -> InProcessClient:
        """A ``KubeClient`` that calls ``handle`` directly (no sockets), one attempt per
        request: a test calling it sees each answer, faults included, as the server gave it."""
        return InProcessClient(self, read_attempts=1, write_attempts=1)

    # --- test hooks -------------------------------------------------------------------------

    def truncate_event_log(self, keep: int = 0) -> None:
        """Forget old changes so watches/continues from before now get 410 Expired."""
        self.store.truncate_log(keep)

    def add_fault(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    @property
    def conversion_webhooks(self) -> ConversionWebhooks:
        """Where CRDs converted by a webhook send their reviews: ``route(service=...,
        to=...)`` maps a Service the fake cannot reach (see ``apiserver.conversion``)."""
        return self.writer.webhooks

    @property
    def admission_webhooks(self) -> AdmissionWebhooks:
        """The admission chain of the stored webhook configurations: ``route(service=...,
        to=...)`` maps a Service the fake cannot reach (see ``apiserver.admission``)."""
        return self.writer.admission

    @property
    def resource_version(self) -> int:
        """The current global resourceVersion."""
        return self.store.rv

    def get_object(
        self, api_version: str, plural: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        """A copy of a stored object, bypassing faults and the request log (for asserts)."""
        group, _, version = api_version.rpartition("/")
        info = self.registry.lookup(group, version, plural)
        if info is None:
            return None
        obj = self.store.get(info.group_resource, namespace or "", name)
        return None if obj is None else self.writer.present(obj, info)

    # --- identities --------------------------------------------------------------------------

    def authenticate(self, token: str) -> authn.UserInfo | None:
        """The ServiceAccount a token this server issued authenticates; None for a token
        it did not issue; ``authn.InvalidToken`` for one that no longer authenticates."""
        def account_uid(namespace: str, name: str) -> str | None:
            account = self.store.get("serviceaccounts", namespace, name)
            return None if account is None else str(account["metadata"].get("uid", ""))

        return authn.authenticate_token(token, self.token_key, self.clock.now(), account_uid)

    def authorize(self, attributes: rbac.Attributes) -> rbac.Decision:
        """The RBAC decision on a request, by the RBAC objects stored now."""
        return rbac.authorize(self.store, attributes)

    # --- the entry point ----------------------------------------------------------------------

    async def handle(self, request: ApiRequest) -> ApiResponse:
        """Serve one resource request; never raises for client mistakes."""
        answer = self._serve(request, shared=False)
        response = answer if isinstance(answer, ApiResponse) else await answer
        if response.body is None:
            return response
        # the caller owns the answer (it may change it): never hand out stored dicts
        return attrs.evolve(response, body=copy_obj(response.body))

    def handle_is_stock(self) -> bool:
        """Whether ``handle`` is this class's own (no subclass, wrapper or spy replaced
        it): only then may a face call ``handle_shared`` instead."""
        return type(self).handle is FakeApiServer.handle and "handle" not in vars(self)

    def handle_shared(self, request: ApiRequest) -> ApiResponse | Awaitable[ApiResponse]:
        """``handle`` for a face that only serialises the answer (HTTP).

        The body and watch events may share the store's dicts, saving a deep copy per
        answer and per watch event; stored objects are never changed, so they read
        the same whenever they are serialised. The caller must not change them.

        Answers at once, unless an injected latency makes the request wait: then it
        returns an awaitable of the answer (the only case that can be interrupted).
        """
        return self._serve(request, shared=True)

    def _serve(
        self, request: ApiRequest, *, shared: bool
    ) -> ApiResponse | Coroutine[Any, Any, ApiResponse]:
        route: Route | None = None
        verb = ""
        fired: list[Fault] = []
        injected = False
        try:
            if len(request.body) > self.max_request_bytes:
                raise status.too_large(
                    f"Request entity too large: limit is {self.max_request_bytes}"
                )
            identity = request.identity
            if identity is not None and not identity.is_admin:  # authorised before routing
                attributes = rbac.request_attributes(
                    identity, request.method, request.path, request.query)
                decision = rbac.authorize(self.store, attributes)
                if not decision.allowed:
                    raise rbac.forbidden(attributes, decision.reason)
            route = parse_route(self.registry, request.method, request.path, request.query)
            verb = route.verb
            # a custom resource's storage (and its watch cache) is made by its first
            # request; a watch that made it finds the cache initialising
            made = self.store.watch_cache.serve(route.target.info.group_resource,
                                                self.store.rv)
            if made and verb == "watch":
                raise status.too_many_requests(1, "storage is (re)initializing")
            if self.controllers.enabled and not self.controllers.running and not self._stopped:
                self.start()
            target = route.target
            fired = self.faults.take(
                verb, target.info.plural, target.namespace or None, target.name, target.subresource
            )
            if any(fault.kind == "latency" for fault in fired):
                return self._serve_late(request, route, fired, shared)
            response = self._run(route, request, fired, shared)
        except status.StatusError as exc:
            response = ApiResponse(exc.code, exc.body, exc.headers)
            injected = _answered_by_fault(fired)
        except Exception as exc:  # keep serving; the store is consistent (single commit)
            response = self._internal_error(request, exc)
        self._record(request, response, route, verb, injected)
        return response

    async def _serve_late(
        self, request: ApiRequest, route: Route, fired: list[Fault], shared: bool
    ) -> ApiResponse:
        """The rest of ``_serve`` after the injected latencies."""
        injected = False
        try:
            for fault in fired:
                if fault.kind == "latency":
                    await self.clock.sleep(fault.seconds)
            response = self._run(route, request, fired, shared)
        except status.StatusError as exc:
            response = ApiResponse(exc.code, exc.body, exc.headers)
            injected = _answered_by_fault(fired)
        except Exception as exc:  # keep serving; the store is consistent (single commit)
            response = self._internal_error(request, exc)
        self._record(request, response, route, route.verb, injected)
        return response

    def _run(
        self, route: Route, request: ApiRequest, fired: list[Fault], shared: bool
    ) -> ApiResponse:
        watch_fault: Fault | None = None
        for fault in fired:
            if fault.kind in ("error", "too_many_requests"):
                raise fault.to_error()
            if fault.kind in ("watch_drop", "watch_stall"):
                watch_fault = fault
        return self._dispatch(route, request, watch_fault, shared)

    def _internal_error(self, request: ApiRequest, exc: Exception) -> ApiResponse:
        log.exception("fake apiserver failed on %s %s", request.method, request.path)
        err = status.internal(f"{type(exc).__name__}: {exc}")
        return ApiResponse(err.code, err.body)

    def _record(
        self, request: ApiRequest, response: ApiResponse, route: Route | None, verb: str,
        injected: bool = False,
    ) -> None:
        target = route.target if route else None
        name = target.name if target else None
        if name is None and request.method == "POST" and response.status == 201 and response.body:
            # a create names its object in the body; the audit log records that name too
            name = (response.body.get("metadata") or {}).get("name")
        # positional: attrs' frozen __init__ takes keywords at twice the cost, on every
        # request (the order is RequestRecord's); the request's query is its own copy
        record = RequestRecord(
            request.method,
            request.path,
            request.query,
            response.status,
            verb,
            self.clock.now(),
            request.user,
            target.info.plural if target else "",
            (target.namespace or None) if target else None,
            name,
            target.subresource if target else None,
            injected,
            _refusal_message(response),
        )
        self.requests.append(record)
        for observe in self.request_observers:
            observe(record)
        if len(self.requests) > 2 * self.request_log_size:
            del self.requests[: len(self.requests) - self.request_log_size]

    # --- verbs ----------------------------------------------------------------------------------

    def _write_options(self, request: ApiRequest, kind: str) -> WriteOptions:
        query = request.query
        dry = query.get("dryRun")
        if dry and dry != "All":
            raise status.invalid(
                kind,
                "meta.k8s.io",
                "",
                [
                    status.cause(
                        "FieldValueNotSupported",
                        "dryRun",
                        f'Unsupported value: "{dry}": supported values: "All"',
                    )
                ],
            )
        validation = query.get("fieldValidation") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise status.bad_request(
                f'fieldValidation: Unsupported value: "{validation}": supported values: '
                '"Ignore", "Warn", "Strict"'
            )
        manager = query.get("fieldManager") or ""
        if not manager and request.user_agent:
            manager = request.user_agent.split("/", 1)[0]
        if len(manager) > 128:
            raise status.invalid(
                kind,
                "meta.k8s.io",
                "",
                [
                    status.cause(
                        "FieldValueTooLong",
                        "fieldManager",
                        "Too long: may not be more than 128 bytes",
                    )
                ],
            )
        force = parse_bool(query["force"]) if "force" in query else None
        return WriteOptions(
            dry_run=bool(dry),
            manager=manager,
            field_validation=validation,
            force=force,
            manager_given=bool(query.get("fieldManager")),
            user=request.identity,
        )

    def _decode_body(self, request: ApiRequest) -> Any:
        media = _media_type(request.content_type)
        if media is not None and media not in _BODY_TYPES:
            raise status.unsupported_media_type(
                media,
                ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
            )
        if not request.body.strip():
            raise status.bad_request("the body of the request was empty")
        return decode_object(request.body, media)

    def _result(self, result: WriteResult) -> ApiResponse:
        headers = {}
        if result.warnings:
            headers["Warning"] = status.warning_header(result.warnings)
        return ApiResponse(result.code, result.body, headers)

    def _dispatch(
        self, route: Route, request: ApiRequest, watch_fault: Fault | None, shared: bool
    ) -> ApiResponse:
        """Run the verb. Bodies share stored objects (``handle`` copies them); watch
        events are copies unless ``shared``."""
        verb = route.verb
        target = route.target
        info = target.info
        if target.subresource == "scale":
            return self._scale(route, request)
        if target.subresource == "eviction":
            return self._result(eviction.evict(self.writer, target, self._decode_body(request)))
        if target.subresource == "token":
            opts = self._write_options(request, "CreateOptions")
            body = self._decode_body(request)
            return self._result(
                tokens.request_token(self.writer, target, body, opts, self.token_key))
        if (info.group, info.plural) in reviews.REVIEWS:
            opts = self._write_options(request, "CreateOptions")
            body = self._decode_body(request)
            identity = request.identity or attrs.evolve(authn.ADMIN, name=request.user)
            return self._result(
                reviews.review(self.writer, info, body, identity, opts, self.authorize))
        if verb == "get":
            assert target.name is not None
            check_get_rv(self.store, request.query)
            obj = self.store.get(info.group_resource, target.namespace, target.name)
            if obj is None:
                raise status.not_found(info.plural, info.group, target.name)
            return ApiResponse(200, self.writer.view(obj, info))
        if verb == "list":
            return ApiResponse(
                200, list_objects(self.store, route, request.query, self.writer.view,
                                  self.writer.view_all)
            )
        if verb == "watch":
            return self._watch(route, request, watch_fault, shared)
        if verb == "create":
            opts = self._write_options(request, "CreateOptions")
            return self._result(self.writer.create(target, self._decode_body(request), opts))
        if verb == "update":
            opts = self._write_options(request, "UpdateOptions")
            return self._result(self.writer.update(target, self._decode_body(request), opts))
        if verb == "patch":
            opts = self._write_options(request, "PatchOptions")
            return self._result(
                self.writer.patch(target, request.body, _media_type(request.content_type), opts)
            )
        if verb == "delete":
            options = attrs.evolve(parse_delete_options(request.body, request.query),
                                   user=request.identity)
            return self._result(self.writer.delete(target, options))
        if verb == "deletecollection":
            return self._delete_collection(route, request)
        raise status.method_not_supported(info.plural, info.group, verb)

    def _scale(self, route: Route, request: ApiRequest) -> ApiResponse:
        target = route.target
        if route.verb == "get":
            check_get_rv(self.store, request.query)
            return ApiResponse(200, scale.get_scale(self.writer, target))
        if route.verb == "update":
            opts = self._write_options(request, "UpdateOptions")
            body = self._decode_body(request)
            return self._result(scale.update_scale(self.writer, target, body, opts))
        opts = self._write_options(request, "PatchOptions")
        media = _media_type(request.content_type)
        return self._result(scale.patch_scale(self.writer, target, request.body, media, opts))

    def _watch(
        self, route: Route, request: ApiRequest, fault: Fault | None, shared: bool
    ) -> ApiResponse:
        spec: WatchSpec = watch_spec(
            route,
            request.query,
            bookmark_interval=self.bookmark_interval,
            default_timeout=self.watch_timeout,
        )
        changes: dict[str, Any] = {}
        if spec.start_rv == CURRENT_RV:
            changes["start_rv"] = self.store.rv
        if fault is not None:
            key = "drop_after" if fault.kind == "watch_drop" else "stall_after"
            changes[key] = fault.after_events
        if changes:
            spec = attrs.evolve(spec, **changes)
        stream: AsyncIterator[dict[str, Any]] = watch_events(
            spec,
            store=self.store,
            registry=self.registry,
            clock=self.clock,
            present=self.writer.view if shared else self.writer.present,
            closing=self._closing,
            encode=shared,
        )
        return ApiResponse(200, stream=stream)

    def _delete_collection(self, route: Route, request: ApiRequest) -> ApiResponse:
        info: ResourceInfo = route.info
        options = parse_delete_options(request.body, request.query)
        label, field = parse_selectors(info, request.query)
        namespace = None if route.all_namespaces or not info.namespaced else route.target.namespace
        items = []
        warnings: dict[str, None] = {}  # each warning once, as the real server's recorder
        for obj in self.store.objects(info.group_resource, namespace):
            meta = obj["metadata"]
            if label is not None and not label.matches(meta.get("labels") or {}):
                continue
            if field is not None and not field.matches(obj):
                continue
            target = Target(info, meta.get("namespace") or "", meta["name"])
            try:
                result = self.writer.delete(target, options)
            except status.StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            body = result.body
            items.append(body if body.get("kind") != "Status" else self.writer.view(obj, info))
            warnings.update(dict.fromkeys(result.warnings))
        return self._result(
            WriteResult(
                200,
                {
                    "kind": info.list_kind,
                    "apiVersion": info.api_version,
                    "metadata": {"resourceVersion": str(self.store.rv)},
                    "items": list_items(items, info, _as_is),
                },
                tuple(warnings),
            )
        )


def _answered_by_fault(fired: list[Fault]) -> bool:
    """Whether an error answer came from an injected fault (``_run`` raises those first)."""
    return any(fault.kind in ("error", "too_many_requests") for fault in fired)


def _refusal_message(response: ApiResponse) -> str:
    """A refusal's Status message, for the request log (empty for a success)."""
    if response.status < 400 or not response.body:
        return ""
    message = response.body.get("message")
    return message if isinstance(message, str) else ""
