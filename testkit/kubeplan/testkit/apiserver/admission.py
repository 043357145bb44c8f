"""The admission chain: the webhooks of the stored Mutating/ValidatingWebhookConfigurations
called on every write, as kube-apiserver's webhook admission plugins call them.

Which webhooks a request reaches (``generic/webhook.go``): a rule matching its operation,
group, version, resource (``pods/status`` for a subresource, ``*`` and ``*/*``) and scope,
or with ``matchPolicy: Equivalent`` (the default) the same group and resource in another
served version (the objects are then sent in the rule's version); the
``namespaceSelector`` on the labels of the object's namespace (a Namespace's own; a
cluster-scoped object always matches); the ``objectSelector`` on the labels of the new or
the old object. Configurations and webhooks are visited in name order, mutating webhooks
before validating ones, each mutation's JSON patch applied before the next call.

A denial is the real error: ``admission webhook "NAME" denied the request: MESSAGE``
with the answer's code (at least 400). A webhook that cannot be called, times out
(``timeoutSeconds``, 10 by default) or answers nonsense is skipped under
``failurePolicy: Ignore`` and fails the request with a 500 ``failed calling webhook``
under ``Fail``. A dry-run request reaches only webhooks whose ``sideEffects`` is ``None``
or ``NoneOnDryRun``; any other matching webhook refuses it.

Writes of webhook configurations are never sent to webhooks (the real server exempts
them, so a broken webhook cannot lock itself in), and the emulated controllers bypass
admission. Calls go where ``apiserver.conversion`` sends ConversionReviews: a ``url``
over HTTPS, a ``service`` only once routed by the test (``route(service=..., to=...)``),
either to a URL or to a function taking and returning the review (in process; how
``kubeplan run --embedded`` serves an operator's webhooks on the fake's own loop). In
process, a sync function runs in the write's thread, without a timeout; an async one
runs on a loop of its own within its ``timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import inspect
import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import orjson

from kubeplan.core import admission
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.selectors import SelectorError, label_selector_from_dict
from kubeplan.testkit.apiserver import patching, status
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.conversion import WebhookFailed, post_review
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import Obj, Store

Review = Callable[[Obj], Obj]
GROUP = "admissionregistration.k8s.io"
VALIDATING = f"validatingwebhookconfigurations.{GROUP}"
MUTATING = f"mutatingwebhookconfigurations.{GROUP}"
CALLS_KEPT = 10_000


@attrs.frozen
class Attempt:
    """What one write asks of admission."""

    info: ResourceInfo
    operation: str
    namespace: str
    name: str
    subresource: str | None
    dry_run: bool
    user: UserInfo | None
    #: the webhooks' warnings, gathered as they answer (the write returns them)
    warnings: list[str] = attrs.field(factory=list, eq=False)


@attrs.frozen
class Call:
    """One webhook call the chain made: which webhook, on what, and what came of it."""

    webhook: str
    operation: str
    resource: str
    name: str
    allowed: bool


def run_function(webhook: admission.Webhook, request: admission.AdmissionRequest) -> Any:
    """A webhook's outcome, called in process: its value or the exception it raised.

    An async function runs to its end on a loop of its own in a helper thread (the
    fake's writes are synchronous, and its loop may be the caller's).
    """
    try:
        outcome = webhook.function(request)
        if inspect.isawaitable(outcome):
            box: list[Any] = []

            async def wait() -> Any:
                return await outcome

            def drive() -> None:
                try:
                    box.append(asyncio.run(wait()))
                except Exception as exc:
                    box.append(exc)

            thread = threading.Thread(target=drive, daemon=True, name="kubeplan-admission")
            thread.start()
            thread.join(webhook.timeout_seconds)
            if not box:
                return TimeoutError(f"no answer within {webhook.timeout_seconds}s")
            return box[0]
        return outcome
    except Exception as exc:
        return exc


def in_process(webhook: admission.Webhook) -> Review:
    """A review function answering as ``webhook``'s route would, without a socket."""

    def answer(body: Obj) -> Obj:
        return admission.review(webhook, body, lambda request: run_function(webhook, request))

    return answer


class AdmissionWebhooks:
    """The fake's admission chain; where its calls go (``route``) and what they did
    (``calls``)."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        convert: Callable[[ResourceInfo, Obj, str], Obj],
    ) -> None:
        self._store, self._registry, self._convert = store, registry, convert
        self._routes: dict[str, str | Review] = {}
        self._uids = itertools.count(1)
        self.calls: collections.deque[Call] = collections.deque(maxlen=CALLS_KEPT)

    # --- routing -------------------------------------------------------------------------

    def route(self, *, to: str | Review, service: tuple[str, str] | None = None,
              url: str | None = None, path: str = "") -> None:
        """Send reviews for ``service`` (namespace, name; only its ``path`` when given)
        or ``url`` to ``to`` (a base URL for a service, a URL, or a function on the
        review)."""
        if (service is None) == (url is None):
            raise InvalidArgument("route: give exactly one of service=(namespace, name) or url=")
        self._routes[f"service:{service[0]}/{service[1]}{path}" if service is not None
                     else f"url:{url}"] = to

    def unroute_all(self) -> None:
        """Forget every route (a service is then unreachable, a url called for real)."""
        self._routes.clear()

    def serve_operator(
        self, definition: OperatorDefinition,
        client_config: Callable[[str], Obj] | None = None,
    ) -> list[Obj]:
        """Answer ``definition``'s admission webhooks in process; the webhook
        configurations to register (create them through the API), none without webhooks.

        ``client_config(path)`` is where the configurations say each webhook is (by
        default the Service ``kubeplan manifests`` deploys)."""
        bound = definition.admission
        if not bound:
            return []
        if client_config is None:
            client_config = default_client_config(definition.config.name)
        for b in bound:
            config = client_config(b.path)
            service = config.get("service")
            answer = in_process(b.webhook)
            if isinstance(service, Mapping):
                self.route(service=(service["namespace"], service["name"]), path=b.path,
                           to=answer)
            else:
                self.route(url=str(config.get("url")), to=answer)
        return admission.configurations(
            bound, admission.configuration_name(definition.config.name), client_config)

    # --- the chain -------------------------------------------------------------------------

    @property
    def has_webhooks(self) -> bool:
        """Whether any webhook configuration is stored (a write without any skips it all)."""
        return bool(self._store.count(VALIDATING) or self._store.count(MUTATING))

    def mutate(self, attempt: Attempt, obj: Obj | None, old: Obj | None) -> Obj | None:
        """``obj`` after every matching mutating webhook (a new dict when one changed it)."""
        if _exempt(attempt.info) or not self._store.count(MUTATING):
            return obj
        for name, hook in self._hooks(MUTATING):
            matched = self._matches(hook, attempt, obj, old)
            if matched is None:
                continue
            response = self._review(name, hook, attempt, matched, obj, old)
            if response is None or obj is None:
                continue
            patch = response.get("patch")
            if not patch:
                continue
            try:
                if response.get("patchType") != "JSONPatch":
                    raise InvalidArgument(f"unsupported patch type {response.get('patchType')!r}")
                ops = orjson.loads(base64.b64decode(patch))
                sent = self._in_version(attempt.info, obj, matched)
                patched = patching.apply_json_patch(sent, ops)
                obj = self._in_version(matched, patched, attempt.info) if matched is not \
                    attempt.info else patched
            except (ValueError, patching.PatchError, status.StatusError) as exc:
                self._failed(name, hook, f"the patch does not apply: {exc}")
        return obj

    def validate(self, attempt: Attempt, obj: Obj | None, old: Obj | None) -> None:
        """Raise the first denial of a matching validating webhook (all are called, as
        the real server calls them in parallel, but one denial is reported)."""
        if _exempt(attempt.info) or not self._store.count(VALIDATING):
            return
        for name, hook in self._hooks(VALIDATING):
            matched = self._matches(hook, attempt, obj, old)
            if matched is not None:
                self._review(name, hook, attempt, matched, obj, old)

    def _hooks(self, group_resource: str) -> list[tuple[str, Mapping[str, Any]]]:
        out = []
        for config in sorted(self._store.objects(group_resource),
                             key=lambda c: c["metadata"]["name"]):
            for hook in config.get("webhooks") or ():
                out.append((str(hook.get("name") or ""), hook))
        return out

    # --- matching (generic/webhook.go) -----------------------------------------------------

    def _matches(self, hook: Mapping[str, Any], attempt: Attempt, obj: Obj | None,
                 old: Obj | None) -> ResourceInfo | None:
        """The resource version the webhook is called in, or None if it is not called."""
        info = attempt.info
        matched: ResourceInfo | None = info if self._rules_match(hook, attempt, info) else None
        if matched is None and (hook.get("matchPolicy") or "Equivalent") == "Equivalent":
            for other in self._registry.group_resource_infos(info.group, info.plural):
                if other.version != info.version and self._rules_match(hook, attempt, other):
                    matched = other
                    break
        if matched is None:
            return None
        if not self._namespace_matches(hook, attempt, obj, old):
            return None
        selector = _selector(hook.get("objectSelector"))
        if selector is not None and not any(
            selector.matches(_labels(o)) for o in (obj, old) if o is not None
        ):
            return None
        return matched

    def _rules_match(self, hook: Mapping[str, Any], attempt: Attempt,
                     info: ResourceInfo) -> bool:
        for rule in hook.get("rules") or ():
            ops = rule.get("operations") or ()
            if "*" not in ops and attempt.operation not in ops:
                continue
            if not _one_of(rule.get("apiGroups"), info.group):
                continue
            if not _one_of(rule.get("apiVersions"), info.version):
                continue
            if not _resource_matches(rule.get("resources") or (), info.plural,
                                     attempt.subresource):
                continue
            scope = rule.get("scope") or "*"
            if scope == "Namespaced" and not info.namespaced:
                continue
            if scope == "Cluster" and info.namespaced:
                continue
            return True
        return False

    def _namespace_matches(self, hook: Mapping[str, Any], attempt: Attempt,
                           obj: Obj | None, old: Obj | None) -> bool:
        selector = _selector(hook.get("namespaceSelector"))
        if selector is None:
            return True
        info = attempt.info
        if info.kind == "Namespace" and not info.group:
            labels = _labels(obj if obj is not None else old)
        elif not info.namespaced:
            return True
        else:
            namespace = self._store.get("namespaces", "", attempt.namespace)
            labels = _labels(namespace)
        return bool(selector.matches(labels))

    # --- calling ----------------------------------------------------------------------

    def _review(self, name: str, hook: Mapping[str, Any], attempt: Attempt,
                matched: ResourceInfo, obj: Obj | None, old: Obj | None) -> Obj | None:
        """The webhook's response (None when it was skipped); raises its denial."""
        if attempt.dry_run and (hook.get("sideEffects") or "Unknown") not in (
                "None", "NoneOnDryRun"):
            raise status.bad_request(f'admission webhook "{name}" does not support dry run')
        uid = f"00000000-0000-4000-a000-{next(self._uids):012d}"
        request = self._request(uid, attempt, matched, obj, old)
        review = {"apiVersion": admission.REVIEW_API_VERSION, "kind": "AdmissionReview",
                  "request": request}
        try:
            answer = self._call(hook, review)
            response = _response(answer, uid)
        except WebhookFailed as exc:
            self._failed(name, hook, str(exc))
            return None
        allowed = bool(response.get("allowed"))
        attempt.warnings.extend(str(w) for w in response.get("warnings") or ())
        self.calls.append(Call(name, attempt.operation, attempt.info.plural,
                               attempt.name, allowed))
        if not allowed:
            raise _denied(name, response.get("status"))
        return response

    def _failed(self, name: str, hook: Mapping[str, Any], error: str) -> None:
        if (hook.get("failurePolicy") or "Fail") == "Ignore":
            return
        raise status.internal(f'failed calling webhook "{name}": {error}')

    def _in_version(self, info: ResourceInfo, obj: Obj, target: ResourceInfo) -> Obj:
        if info is target or obj.get("apiVersion") == target.api_version:
            return obj
        return self._convert(info, obj, target.api_version)

    def _request(self, uid: str, attempt: Attempt, matched: ResourceInfo, obj: Obj | None,
                 old: Obj | None) -> Obj:
        info = attempt.info

        def sent(o: Obj | None) -> Obj | None:
            return None if o is None else copy.deepcopy(self._in_version(info, o, matched))

        user = attempt.user
        user_info: Obj = {"username": user.name if user is not None else "system:admin",
                          "groups": list(user.groups) if user is not None
                          else ["system:masters", "system:authenticated"]}
        if user is not None and user.uid:
            user_info["uid"] = user.uid
        request: Obj = {
            "uid": uid,
            "kind": {"group": matched.group, "version": matched.version, "kind": matched.kind},
            "resource": {"group": matched.group, "version": matched.version,
                         "resource": matched.plural},
            "requestKind": {"group": info.group, "version": info.version, "kind": info.kind},
            "requestResource": {"group": info.group, "version": info.version,
                                "resource": info.plural},
            "name": attempt.name,
            "operation": attempt.operation,
            "userInfo": user_info,
            "object": sent(obj),
            "oldObject": sent(old),
            "dryRun": attempt.dry_run,
        }
        if info.namespaced:
            request["namespace"] = attempt.namespace
        if attempt.subresource:
            request["subResource"] = attempt.subresource
            request["requestSubResource"] = attempt.subresource
        return request

    def _call(self, hook: Mapping[str, Any], review: Obj) -> Any:
        config = hook.get("clientConfig") or {}
        timeout = float(hook.get("timeoutSeconds") or admission.DEFAULT_TIMEOUT_SECONDS)
        service = config.get("service")
        if isinstance(service, Mapping):
            ns, svc = str(service.get("namespace", "")), str(service.get("name", ""))
            path = str(service.get("path") or "")
            target = self._routes.get(f"service:{ns}/{svc}{path}") or self._routes.get(
                f"service:{ns}/{svc}")
            if target is None:
                raise WebhookFailed(
                    f"service {ns}/{svc} is not routed: the fake cannot reach Services (map "
                    "it with admission_webhooks.route(service=..., to=...))")
            if isinstance(target, str):
                return post_review(target.rstrip("/") + path, review, config, timeout=timeout)
            return target(review)
        url = str(config.get("url") or "")
        target = self._routes.get(f"url:{url}", url)
        if isinstance(target, str):
            return post_review(target, review, config, timeout=timeout)
        return target(review)


def default_client_config(operator: str) -> Callable[[str], Obj]:
    """Where ``kubeplan manifests`` puts an operator's webhooks: its Service."""
    from kubeplan.core import versions  # a module of the core, imported for one name

    service = versions.webhook_service_name(operator)

    def config(path: str) -> Obj:
        out = versions.service_client_config(service)
        out["service"]["path"] = path
        return out

    return config


def _exempt(info: ResourceInfo) -> bool:
    return info.group == GROUP and info.plural in (
        "validatingwebhookconfigurations", "mutatingwebhookconfigurations")


def _one_of(values: Any, value: str) -> bool:
    values = values or ()
    return "*" in values or value in values


def _resource_matches(resources: Any, plural: str, sub: str | None) -> bool:
    for item in resources:
        res, _, item_sub = str(item).partition("/")
        if sub:
            if (res in ("*", plural)) and item_sub in ("*", sub):
                return True
        elif not item_sub and res in ("*", plural):
            return True
    return False


def _labels(obj: Obj | None) -> dict[str, str]:
    if obj is None:
        return {}
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _selector(value: Any) -> Any:
    if not value:
        return None
    try:
        return label_selector_from_dict(value)
    except SelectorError:
        return None


def _response(answer: Any, uid: str) -> Obj:
    if not isinstance(answer, dict) or (answer.get("apiVersion"), answer.get("kind")) != (
            admission.REVIEW_API_VERSION, "AdmissionReview"):
        raise WebhookFailed(f"expected webhook response of {admission.REVIEW_API_VERSION}, "
                            "Kind=AdmissionReview")
    response = answer.get("response")
    if not isinstance(response, dict):
        raise WebhookFailed("webhook response was absent")
    if response.get("uid") != uid:
        raise WebhookFailed(f'expected response.uid="{uid}", got "{response.get("uid")}"')
    return response


def _denied(name: str, result: Any) -> status.StatusError:
    """errors/statuserror.go: the webhook's status, code at least 400, worded."""
    result = dict(result) if isinstance(result, Mapping) else {}
    code = int(result.get("code") or 0)
    if code < 400:
        code = 400
    denied_by = f'admission webhook "{name}" denied the request'
    if result.get("message"):
        message = f"{denied_by}: {result['message']}"
    elif result.get("reason"):
        message = f"{denied_by}: {result['reason']}"
    else:
        message = f"{denied_by} without explanation"
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "code": code}
    if result.get("reason"):
        body["reason"] = result["reason"]
    if result.get("details"):
        body["details"] = result["details"]
    return status.StatusError(body)


__all__ = ["AdmissionWebhooks", "Attempt", "Call", "default_client_config", "in_process",
           "run_function"]
