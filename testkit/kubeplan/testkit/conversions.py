"""``check_round_trips``: the property test that a versioned parent's conversions lose nothing.

The API server converts every write of another version into the storage version and
every read back out of it, so a conversion that drops or bends a field changes what a
client wrote without anyone noticing. For each pair ``(a, b)`` it checks, hypothesis
draws objects of version ``a`` from that version's CRD schema (only specs its
``spec_class`` reads, as ``check_operator`` draws parents) and asserts that
``a -> b -> a`` gives the object back (a null field counting as an absent one, as in
Kubernetes JSON); a failure raises :class:`ConversionNotLossless`
naming the pair, the smallest object that changed and what it came back as.

By default the pairs are the ones the server uses: every version through the storage
version, and the storage version through every other one. Give ``pairs=`` to check
fewer (a conversion that is lossy on purpose) or more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kubeplan.core import convert
from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument, KubeplanError
from kubeplan.core.versions import VersionSet
from kubeplan.testkit.strategies import parents_from_crd, specs_from_crd

DEFAULT_SETTINGS = hypothesis_settings(
    max_examples=100, deadline=None, database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


class ConversionNotLossless(KubeplanError, AssertionError):
    """A round trip between two versions changed an object; the message shows both."""


def default_pairs(versions: VersionSet) -> list[tuple[str, str]]:
    """Every version through the storage version, and the storage version through every
    other one (what the API server's writes and reads do)."""
    hub = versions.storage.name
    pairs = [(name, hub) for name in versions.names if name != hub]
    pairs += [(hub, name) for name in versions.names if name != hub]
    return pairs


def objects_of_version(definition: OperatorDefinition, version: str) -> st.SearchStrategy[Any]:
    """Objects of ``version`` drawn from its CRD schema, readable by its ``spec_class``."""
    readable = _readable_in(definition, version)
    drawn = parents_from_crd(crd_of(definition), version_name=version)
    return drawn if readable is None else drawn.filter(
        lambda obj: readable(obj.get("spec") or {}))


def specs_of_version(definition: OperatorDefinition, version: str) -> st.SearchStrategy[Any]:
    """The ``spec`` alone of ``objects_of_version``'s objects."""
    readable = _readable_in(definition, version)
    drawn = specs_from_crd(crd_of(definition), version_name=version)
    return drawn if readable is None else drawn.filter(lambda spec: readable(spec or {}))


def _readable_in(definition: OperatorDefinition, version: str
                 ) -> Callable[[dict[str, Any]], bool] | None:
    """Whether ``version``'s spec class reads a spec (None: the version has no class)."""
    spec_class = _versions_of(definition).version(version).spec_class
    if spec_class is None:
        return None

    def readable(spec: dict[str, Any]) -> bool:
        try:
            convert.structure(spec, spec_class)
        except Exception:  # the converter wraps validator errors in groups
            return False
        return True

    return readable


def check_round_trips(
    definition: OperatorDefinition,
    *,
    pairs: Iterable[tuple[str, str]] | None = None,
    settings: hypothesis_settings | None = None,
) -> None:
    """Assert ``a -> b -> a`` is the identity for every pair (see the module docstring)."""
    versions = _versions_of(definition)
    chosen = list(pairs) if pairs is not None else default_pairs(versions)
    for source, through in chosen:
        versions.version(source)
        versions.version(through)
        _check_pair(definition, versions, source, through, settings or DEFAULT_SETTINGS)


def _check_pair(definition: OperatorDefinition, versions: VersionSet, source: str,
                through: str, settings: hypothesis_settings) -> None:
    @settings
    @given(objects_of_version(definition, source))
    def round_trip(obj: dict[str, Any]) -> None:
        there = versions.convert(obj, through)
        back = versions.convert(there, source)
        if _without_nulls(back) != _without_nulls(obj):
            raise ConversionNotLossless(
                f"{source} -> {through} -> {source} changed the object:\n"
                f"  sent:     {obj!r}\n  {through}: {there!r}\n  back:     {back!r}"
            )

    round_trip()


def _without_nulls(value: Any) -> Any:
    """``value`` with null fields left out: absent and null mean the same in Kubernetes
    JSON, and kubeplan's converter writes neither."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _versions_of(definition: OperatorDefinition) -> VersionSet:
    if definition.version_set is None:
        raise InvalidArgument(
            f"operator {definition.config.name!r} declares no versions: there is nothing "
            "to convert"
        )
    return definition.version_set


__all__ = [
    "DEFAULT_SETTINGS",
    "ConversionNotLossless",
    "check_round_trips",
    "default_pairs",
    "objects_of_version",
    "specs_of_version",
]
