"""Several versions of one custom resource, and the pure conversions between them.

A parent type can be served in several versions (``v1``, ``v2``...), each described by its
own attrs classes, with exactly one *storage* version: the API server keeps every object
in that version and converts on each read and write of another one. Conversion is the
operator's job: the CRD's ``conversion.strategy: Webhook`` makes the API server send a
``ConversionReview`` to the operator, which answers with :func:`review` (served over
HTTPS by ``kubeplan.adapters.webhooks``).

Conversions are declared per ordered pair of version names, as pure functions on the
whole raw object (a ``dict``; return the converted body, ``apiVersion`` and metadata are
set for you) or, wrapped in :func:`on_spec`, on the spec's attrs instances::

    VersionSet(
        group="example.com",
        versions=(Version("v1", spec_class=V1Spec), Version("v2", spec_class=V2Spec,
                                                            storage=True)),
        conversions={("v1", "v2"): on_spec(v1_to_v2), ("v2", "v1"): on_spec(v2_to_v1)},
    )

:meth:`VersionSet.convert` chains declared conversions along the shortest path
(``v1 -> v2 -> v3`` with only neighbouring pairs declared) and raises
:class:`NoConversionPath` naming both versions when there is none. As the real API server
does with a webhook's answer, the converted object keeps the original's metadata, except
``labels`` and ``annotations``, which the conversion may change. Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from kubeplan.core import convert as _convert
from kubeplan.core.errors import InvalidArgument, KubeplanError

Obj = dict[str, Any]
RawConversion = Callable[[Obj], Obj]

CONVERSION_REVIEW_API_VERSION = "apiextensions.k8s.io/v1"
#: where the operator serves its webhooks (``kubeplan run --webhook-port``) and the path
#: of the conversion webhook; the Service ``kubeplan manifests`` writes listens on 443
WEBHOOK_PORT = 9443
WEBHOOK_SERVICE_PORT = 443
CONVERT_PATH = "/convert"
#: the namespace ``kubeplan manifests`` deploys into unless told otherwise
DEFAULT_NAMESPACE = "kubeplan-system"


class VersionError(KubeplanError, ValueError):
    """A version declaration that cannot work; the message names the version or pair."""


class NoConversionPath(VersionError):
    """No chain of declared conversions leads from one version to the other."""


class ConversionFailed(KubeplanError, ValueError):
    """A conversion function raised or returned something that is not an object."""


@attrs.frozen
class Version:
    """One version of the parent type: its name, attrs classes and flags.

    ``storage``: the one version the API server stores objects in. ``served``: whether
    the API serves it at all (an unserved version can still be stored from the past).
    """

    name: str
    spec_class: type | None = None
    status_class: type | None = None
    storage: bool = False
    served: bool = True
    deprecated: bool = False


@attrs.frozen
class SpecConversion:
    """A conversion written on the spec's attrs instances (see :func:`on_spec`)."""

    function: Callable[[Any], Any]
    status: Callable[[Obj], Obj] | None = None


def on_spec(
    function: Callable[[Any], Any], *, status: Callable[[Obj], Obj] | None = None
) -> SpecConversion:
    """Declare a conversion from the source version's spec instance to the target's.

    The spec is read with the source version's ``spec_class`` and the result written with
    the target's; the status is carried over as it is, or through ``status`` (a function
    on the raw status dict) when given.
    """
    return SpecConversion(function, status)


Conversion = RawConversion | SpecConversion


def versions_tuple(value: Iterable[Version]) -> tuple[Version, ...]:
    """``value`` as a tuple (the converter of ``OperatorDefinition.versions``)."""
    return tuple(value)


def _conversions(value: Mapping[tuple[str, str], Conversion]) -> dict[tuple[str, str], Any]:
    return dict(value)


@attrs.frozen
class VersionSet:
    """The versions of one group's type, validated when built.

    Rules: names unique and non-empty, exactly one storage version, at least one served,
    every conversion between declared versions, and a path of conversions both ways
    between the storage version and every other version (the server converts each read
    from storage and each write to it).
    """

    group: str
    versions: tuple[Version, ...] = attrs.field(converter=versions_tuple)
    conversions: dict[tuple[str, str], Conversion] = attrs.field(
        factory=dict, converter=_conversions
    )

    def __attrs_post_init__(self) -> None:
        names = [v.name for v in self.versions]
        if not names:
            raise VersionError("versions: declare at least one Version")
        for name in names:
            if not name or names.count(name) > 1:
                raise VersionError(f"versions: version names must be unique and non-empty, "
                                   f"got {names!r}")
        storage = [v.name for v in self.versions if v.storage]
        if len(storage) != 1:
            raise VersionError(
                f"versions: exactly one Version must have storage=True, got {storage or 'none'}"
            )
        if not any(v.served for v in self.versions):
            raise VersionError("versions: at least one Version must be served")
        for pair, fn in self.conversions.items():
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise VersionError(f"conversions: key {pair!r} is not a (from, to) pair")
            for name in pair:
                if name not in names:
                    raise VersionError(
                        f"conversions[{pair!r}]: {name!r} is not a declared version "
                        f"(declared: {names})"
                    )
            if pair[0] == pair[1]:
                raise VersionError(f"conversions[{pair!r}]: converts a version to itself")
            if not (callable(fn) or isinstance(fn, SpecConversion)):
                raise VersionError(f"conversions[{pair!r}]: {fn!r} is not callable")
        hub = storage[0]
        for name in names:
            if name != hub:
                self.path(name, hub)
                self.path(hub, name)

    # --- lookups ----------------------------------------------------------------------

    @property
    def storage(self) -> Version:
        """The storage version."""
        return next(v for v in self.versions if v.storage)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.versions)

    def version(self, name: str) -> Version:
        """The declared version ``name`` (``VersionError`` naming the declared ones)."""
        for v in self.versions:
            if v.name == name:
                return v
        raise VersionError(f"{self.group}: no version {name!r} (declared: {list(self.names)})")

    def api_version(self, name: str) -> str:
        return f"{self.group}/{name}"

    def version_of(self, obj: Mapping[str, Any]) -> str:
        """The declared version an object's ``apiVersion`` names."""
        api_version = obj.get("apiVersion")
        group, _, name = str(api_version).rpartition("/")
        if group != self.group:
            raise VersionError(
                f"apiVersion {api_version!r} is not of group {self.group!r}"
            )
        return self.version(name).name

    def path(self, source: str, target: str) -> list[tuple[str, str]]:
        """The shortest chain of declared conversions from ``source`` to ``target``."""
        self.version(source)
        self.version(target)
        previous: dict[str, str | None] = {source: None}
        todo = deque([source])
        while todo:
            here = todo.popleft()
            if here == target:
                break
            for (a, b) in self.conversions:
                if a == here and b not in previous:
                    previous[b] = here
                    todo.append(b)
        if target not in previous:
            raise NoConversionPath(
                f"{self.group}: no conversion from {source!r} to {target!r}: declare "
                f"conversions[({source!r}, {target!r})] or a chain through other versions "
                f"(declared pairs: {sorted(self.conversions)})"
            )
        steps: list[tuple[str, str]] = []
        node = target
        while (before := previous[node]) is not None:
            steps.append((before, node))
            node = before
        return steps[::-1]

    # --- converting -------------------------------------------------------------------

    def convert(self, obj: Mapping[str, Any], to_version: str) -> Obj:
        """``obj`` in version ``to_version`` (a new dict; ``obj`` is not changed)."""
        source = self.version_of(obj)
        out: Obj = copy.deepcopy(dict(obj))
        for a, b in self.path(source, to_version):
            out = self._step(out, a, b)
        return out

    def _step(self, obj: Obj, source: str, target: str) -> Obj:
        fn = self.conversions[(source, target)]
        where = f"conversion {source} -> {target}"
        try:
            if isinstance(fn, SpecConversion):
                result = self._spec_step(fn, obj, source, target)
            else:
                result = fn(copy.deepcopy(obj))
        except (ConversionFailed, VersionError):
            raise
        except Exception as exc:  # user code: reported with its place
            raise ConversionFailed(f"{where} of {_name(obj)} raised "
                                   f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(result, dict):
            raise ConversionFailed(
                f"{where} of {_name(obj)} returned {type(result).__name__}, not an object"
            )
        return _restore(obj, result, self.api_version(target))

    def _spec_step(self, fn: SpecConversion, obj: Obj, source: str, target: str) -> Obj:
        from_class = self.version(source).spec_class
        to_class = self.version(target).spec_class
        if from_class is None or to_class is None:
            raise VersionError(
                f"conversions[({source!r}, {target!r})] is on_spec(...), but version "
                f"{source if from_class is None else target!r} has no spec_class"
            )
        spec: Any = _convert.structure(obj.get("spec") or {}, from_class)
        new = fn.function(spec)
        if not isinstance(new, to_class):
            raise ConversionFailed(
                f"conversion {source} -> {target} returned {type(new).__name__}, "
                f"not {to_class.__name__}"
            )
        out = {k: v for k, v in obj.items() if k != "spec"}
        out["spec"] = _convert.unstructure(new, to_class)
        if fn.status is not None and isinstance(obj.get("status"), dict):
            out["status"] = fn.status(copy.deepcopy(obj["status"]))
        return out

    def round_trips(self, obj: Mapping[str, Any], through: str) -> bool:
        """Whether ``obj`` comes back unchanged from a trip to ``through`` and back."""
        back = self.convert(self.convert(obj, through), self.version_of(obj))
        return back == dict(obj)


def webhook_service_name(operator_name: str) -> str:
    """The name of the Service in front of an operator's webhooks."""
    base = re.sub(r"[^a-z0-9-]+", "-", operator_name.lower()).strip("-")[:55].rstrip("-")
    if not base:
        raise InvalidArgument(f"operator name {operator_name!r} has no letters or digits")
    return f"{base}-webhook"


def service_client_config(
    service: str, namespace: str = DEFAULT_NAMESPACE, *, ca_bundle: str | None = None
) -> Obj:
    """A webhook ``clientConfig`` naming a Service (port 443, path ``/convert``)."""
    config: Obj = {
        "service": {
            "namespace": namespace,
            "name": service,
            "path": CONVERT_PATH,
            "port": WEBHOOK_SERVICE_PORT,
        }
    }
    if ca_bundle:
        config["caBundle"] = ca_bundle
    return config


def conversion_of(client_config: Mapping[str, Any]) -> Obj:
    """A CRD's ``spec.conversion`` calling the webhook at ``client_config``."""
    return {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": copy.deepcopy(dict(client_config)),
        },
    }


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name")
    return f"{ns}/{name}" if ns else str(name)


def _restore(original: Obj, converted: Obj, api_version: str) -> Obj:
    """The converted body with the original's metadata (but its labels and annotations)."""
    meta = copy.deepcopy(original.get("metadata") or {})
    new_meta = converted.get("metadata")
    for field in ("labels", "annotations"):
        value = new_meta.get(field) if isinstance(new_meta, dict) else meta.get(field)
        if value is None:
            meta.pop(field, None)
        else:
            meta[field] = value
    rest = {k: v for k, v in converted.items() if k not in ("apiVersion", "kind", "metadata")}
    return {"apiVersion": api_version, "kind": original.get("kind"), "metadata": meta, **rest}


# --------------------------------------------------------------------------------------
# ConversionReview (apiextensions.k8s.io/v1), answered purely


def review(versions: VersionSet, body: Any) -> Obj:
    """The answer to a ``ConversionReview``: every object converted, or a Failure.

    A malformed review raises ``ValueError`` (the webhook answers 400); a conversion
    that fails is a ``Failure`` result naming the object, as the API server expects.
    """
    if not isinstance(body, dict) or body.get("kind") != "ConversionReview":
        raise InvalidArgument("the body is not a ConversionReview")
    if body.get("apiVersion") != CONVERSION_REVIEW_API_VERSION:
        raise InvalidArgument(
            f"ConversionReview apiVersion {body.get('apiVersion')!r} is not supported "
            f"(only {CONVERSION_REVIEW_API_VERSION})"
        )
    request = body.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str):
        raise InvalidArgument("ConversionReview.request.uid is missing")
    objects = request.get("objects") or []
    desired = request.get("desiredAPIVersion")
    if not isinstance(objects, list) or not isinstance(desired, str):
        raise InvalidArgument("ConversionReview.request needs desiredAPIVersion and objects")
    response: Obj = {"uid": request["uid"]}
    try:
        group, _, target = desired.rpartition("/")
        if group != versions.group:
            raise VersionError(f"desiredAPIVersion {desired!r} is not of group "
                               f"{versions.group!r}")
        converted = [versions.convert(o, target) for o in _objects(objects)]
    except (VersionError, ConversionFailed) as exc:
        response["result"] = {"status": "Failure", "message": str(exc)}
    else:
        response["convertedObjects"] = converted
        response["result"] = {"status": "Success"}
    return {
        "apiVersion": CONVERSION_REVIEW_API_VERSION,
        "kind": "ConversionReview",
        "response": response,
    }


def _objects(objects: Iterable[Any]) -> Iterable[Obj]:
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise ConversionFailed(f"request.objects[{i}] is not an object")
        yield obj


def conversion_review(objects: Iterable[Obj], desired_api_version: str, uid: str) -> Obj:
    """A ``ConversionReview`` request, as the API server sends one."""
    return {
        "apiVersion": CONVERSION_REVIEW_API_VERSION,
        "kind": "ConversionReview",
        "request": {
            "uid": uid,
            "desiredAPIVersion": desired_api_version,
            "objects": list(objects),
        },
    }


__all__ = [
    "CONVERSION_REVIEW_API_VERSION",
    "CONVERT_PATH",
    "DEFAULT_NAMESPACE",
    "WEBHOOK_PORT",
    "WEBHOOK_SERVICE_PORT",
    "Conversion",
    "ConversionFailed",
    "NoConversionPath",
    "SpecConversion",
    "Version",
    "VersionError",
    "VersionSet",
    "conversion_of",
    "conversion_review",
    "on_spec",
    "review",
    "service_client_config",
    "versions_tuple",
    "webhook_service_name",
]
