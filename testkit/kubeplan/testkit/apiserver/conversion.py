"""Custom resources converted between versions, as kube-apiserver converts them.

(Built-ins served in several versions, HorizontalPodAutoscalers, go through the same
calls to their conversion functions in ``autoscaling``.)

A CRD with ``conversion.strategy: None`` (or none at all) converts by rewriting
``apiVersion``. With ``strategy: Webhook`` every object read or written in a version other
than the one it is stored in goes through the CRD's webhook as a ``ConversionReview``
(``apiextensions.k8s.io/v1``), and the answer is checked as the real server checks it:
the request's uid echoed, ``Success``, one object per object sent, each of the desired
``apiVersion`` and the same kind, name, namespace and uid; the original metadata is kept
except labels and annotations. Any failure is a 500 naming the webhook and the object's
stored group, version and kind, in the real server's words.

Where the webhook is: a ``url`` clientConfig is called over HTTPS (blocking, trusting the
``caBundle``, or the system's CAs without one). The fake cannot route to Services, so a
``service`` clientConfig must be mapped by the test: ``ConversionWebhooks.route(service=
("ns", "name"), to=...)`` names a URL or a function taking and returning the review
dict (in process, which is how ``kubeplan run --embedded`` and simulations in virtual
time call the operator's conversion without a socket). ``to`` may also replace a url
clientConfig (``route(url=..., to=...)``). A blocking HTTPS call from the fake's HTTP face
stalls its event loop for the call: a webhook served by that same loop must be routed to
a function.
"""

from __future__ import annotations

import base64
import collections
import copy
import itertools
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument, KubeplanError
from kubeplan.core.versions import review
from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.autoscaling import convert as builtin_convert
from kubeplan.testkit.apiserver.registry import ResourceInfo

Obj = dict[str, Any]
Review = Callable[[Obj], Obj]

REVIEW_API_VERSION = "apiextensions.k8s.io/v1"
CALLS_KEPT = 10_000
#: the real server's webhook client timeout (the CRD cannot set one for conversion)
TIMEOUT_SECONDS = 30.0


class ConversionWebhooks:
    """Where the fake sends ConversionReviews, and the calls it made (``calls``)."""

    def __init__(self) -> None:
        self._routes: dict[str, str | Review] = {}
        self._uids = itertools.count(1)
        #: (desired apiVersion, object count) per review sent, oldest first (the last
        #: ``CALLS_KEPT``: a long simulation sends many)
        self.calls: collections.deque[tuple[str, int]] = collections.deque(maxlen=CALLS_KEPT)

    def route(
        self,
        *,
        to: str | Review,
        service: tuple[str, str] | None = None,
        url: str | None = None,
    ) -> None:
        """Send reviews for ``service`` (namespace, name) or ``url`` to ``to``."""
        if (service is None) == (url is None):
            raise InvalidArgument("route: give exactly one of service=(namespace, name) or url=")
        self._routes[_service_key(*service) if service is not None else f"url:{url}"] = to

    def serve_operator(
        self, definition: OperatorDefinition, client_config: Mapping[str, Any] | None = None
    ) -> bool:
        """Answer the webhook of ``definition``'s CRD (``crd_of`` with ``client_config``)
        in process, with its own conversions; whether it has any (versions declared)."""
        versions = definition.version_set
        if versions is None:
            return False
        crd = crd_of(definition, webhook_client_config=client_config)
        config = crd["spec"]["conversion"]["webhook"]["clientConfig"]

        def answer(body: Obj) -> Obj:
            return review(versions, body)

        service = config.get("service")
        if isinstance(service, Mapping):
            self.route(service=(service["namespace"], service["name"]), to=answer)
        else:
            self.route(url=str(config.get("url")), to=answer)
        return True

    def unroute(self, *, service: tuple[str, str] | None = None, url: str | None = None) -> None:
        key = _service_key(*service) if service is not None else f"url:{url}"
        self._routes.pop(key, None)

    # --- converting -------------------------------------------------------------------

    def convert(self, info: ResourceInfo, obj: Obj, api_version: str) -> Obj:
        """``obj`` (a private copy is returned) in ``api_version``, through the CRD's
        webhook when it has one; a 500 ``StatusError`` when the webhook fails."""
        if obj.get("apiVersion") == api_version:
            return obj
        if not info.custom:
            return builtin_convert(obj, api_version)
        if info.conversion is None:
            return {**obj, "apiVersion": api_version}
        return self.convert_many(info, [obj], api_version)[0]

    def convert_many(self, info: ResourceInfo, objs: list[Obj], api_version: str) -> list[Obj]:
        """Several objects in one review (those already in ``api_version`` are not sent)."""
        todo = [i for i, o in enumerate(objs) if o.get("apiVersion") != api_version]
        if not todo:
            return objs
        if not info.custom:
            return [builtin_convert(o, api_version) for o in objs]
        if info.conversion is None:
            return [{**o, "apiVersion": api_version} for o in objs]
        gvk = f"{objs[todo[0]].get('apiVersion')}, Kind={info.kind}"
        sent = [objs[i] for i in todo]
        uid = f"00000000-0000-4000-8000-{next(self._uids):012d}"
        review = {
            "apiVersion": REVIEW_API_VERSION,
            "kind": "ConversionReview",
            "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": sent},
        }
        self.calls.append((api_version, len(sent)))
        try:
            answer = self._call(info.conversion, copy.deepcopy(review))
            converted = _converted(answer, uid)
        except WebhookFailed as exc:
            raise status.unknown_500(f"conversion webhook for {gvk} failed: {exc}") from None
        if len(converted) != len(sent):
            raise status.unknown_500(
                f"conversion webhook for {gvk} returned {len(converted)} objects, "
                f"expected {len(sent)}"
            )
        out = list(objs)
        for index, (i, new) in enumerate(zip(todo, converted, strict=True)):
            try:
                out[i] = _checked(objs[i], new, api_version)
            except WebhookFailed as exc:
                raise status.unknown_500(
                    f"conversion webhook for {gvk} returned invalid converted object at "
                    f"index {index}: {exc}"
                ) from None
        return out

    def _call(self, conversion: Mapping[str, Any], review: Obj) -> Any:
        config = conversion.get("clientConfig") or {}
        service = config.get("service")
        if isinstance(service, Mapping):
            key = _service_key(str(service.get("namespace", "")), str(service.get("name", "")))
            target = self._routes.get(key)
            if target is None:
                raise WebhookFailed(
                    f"service {service.get('namespace')}/{service.get('name')} is not routed: "
                    "the fake cannot reach Services (map it with "
                    "ConversionWebhooks.route(service=..., to=...))"
                )
            if isinstance(target, str):
                return post_review(target.rstrip("/") + str(service.get("path") or ""), review,
                             config)
            return target(review)
        url = str(config.get("url") or "")
        target = self._routes.get(f"url:{url}", url)
        if isinstance(target, str):
            return post_review(target, review, config)
        return target(review)


class WebhookFailed(KubeplanError):
    """Why one review failed, worded as the real server words it."""


def _service_key(namespace: str, name: str) -> str:
    return f"service:{namespace}/{name}"


def post_review(url: str, review: Obj, config: Mapping[str, Any], *,
                timeout: float = TIMEOUT_SECONDS) -> Any:
    """POST a review to a webhook over HTTPS, trusting the clientConfig's ``caBundle``;
    the answer decoded, or ``WebhookFailed`` in the real server's words."""
    # the real server's REST client adds its timeout to the URL, and names the URL so
    called = f"{url}{'&' if '?' in url else '?'}timeout={int(timeout)}s"
    if not url.startswith("https://"):
        raise WebhookFailed(f'Post "{called}": the fake, like the API server, calls webhooks over '
                      "HTTPS only")
    context = ssl.create_default_context()
    bundle = config.get("caBundle")
    if bundle:
        try:
            context = ssl.create_default_context(
                cadata=base64.b64decode(bundle).decode("ascii"))
        except (ValueError, ssl.SSLError) as exc:
            raise WebhookFailed(f"the caBundle does not load: {exc}") from None
    request = urllib.request.Request(
        called, data=orjson.dumps(review), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as r:
            body = r.read()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace").strip()
        raise WebhookFailed(f'Post "{called}": the server answered {exc.code}: {text}') from None
    except TimeoutError:
        raise WebhookFailed(f'Post "{called}": context deadline exceeded') from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise WebhookFailed(f'Post "{called}": context deadline exceeded') from None
        if isinstance(reason, ConnectionRefusedError):
            parts = urllib.parse.urlsplit(url)
            where = f"{parts.hostname}:{parts.port or 443}"
            raise WebhookFailed(f'Post "{called}": dial tcp {where}: connect: connection refused'
                          ) from None
        if isinstance(reason, ssl.SSLCertVerificationError) and reason.verify_code in (19, 20):
            # self-signed in the chain / no local issuer: Go's words for an unknown CA (Go
            # adds "(possibly because of ...)" when a CA of the same name fails to verify)
            raise WebhookFailed(f'Post "{called}": tls: failed to verify certificate: x509: '
                          "certificate signed by unknown authority") from None
        raise WebhookFailed(f'Post "{called}": {reason}') from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookFailed(f"the answer is not JSON: {exc}") from None


def _converted(answer: Any, uid: str) -> list[Any]:
    if not isinstance(answer, dict) or (answer.get("apiVersion"), answer.get("kind")) != (
        REVIEW_API_VERSION, "ConversionReview"
    ):
        got = answer.get("apiVersion"), answer.get("kind") if isinstance(answer, dict) else None
        raise WebhookFailed(f"expected webhook response of {REVIEW_API_VERSION}, "
                      f"Kind=ConversionReview, got {got}")
    response = answer.get("response")
    if not isinstance(response, dict):
        raise WebhookFailed("no response provided")
    if response.get("uid") != uid:
        raise WebhookFailed(f'expected response.uid="{uid}", got "{response.get("uid")}"')
    result = response.get("result") or {}
    if result.get("status") != "Success":
        if result.get("message"):
            raise WebhookFailed(str(result["message"]))
        raise WebhookFailed(
            f"response.result.status was '{result.get('status', '')}', not 'Success'")
    converted = response.get("convertedObjects") or []
    if not isinstance(converted, list):
        raise WebhookFailed("response.convertedObjects is not a list")
    return converted


def _checked(original: Obj, converted: Any, api_version: str) -> Obj:
    if not isinstance(converted, dict):
        raise WebhookFailed(f"invalid type, expected=Unstructured, got={type(converted).__name__}")
    if converted.get("apiVersion") != api_version:
        raise WebhookFailed(f"invalid groupVersion (expected {api_version}, received "
                      f"{converted.get('apiVersion')})")
    if converted.get("kind") != original.get("kind"):
        raise WebhookFailed(f"invalid kind (expected {original.get('kind')}, received "
                      f"{converted.get('kind')})")
    before = original.get("metadata") or {}
    after = converted.get("metadata")
    if not isinstance(after, dict):
        raise WebhookFailed("missing metadata in converted object")
    for field in ("name", "namespace", "uid"):
        if (before.get(field) or "") != (after.get(field) or ""):
            raise WebhookFailed(f"must have the same {field}: {before.get(field) or ''} != "
                          f"{after.get(field) or ''}")
    meta = copy.deepcopy(before)
    for field in ("labels", "annotations"):
        value = after.get(field)
        if value is None:
            meta.pop(field, None)
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise WebhookFailed(f"metadata.{field} must map strings to strings in converted object")
        meta[field] = value
    return {**converted, "metadata": meta}


__all__ = ["TIMEOUT_SECONDS", "ConversionWebhooks", "Review", "WebhookFailed", "post_review"]
