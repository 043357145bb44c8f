"""An operator as one importable value: its config, its handler and, optionally, its CRD types.

``kubeplan run``, ``kubeplan plan``, ``kubeplan crd`` and ``kubeplan manifests`` take a
``MODULE:ATTR`` that names an ``OperatorDefinition``; tests and the runtime take its parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kubeplan.core.admission import (
    Bound,
    Mutator,
    Validator,
    bind,
    mutators_tuple,
    validators_tuple,
)
from kubeplan.core.config import OperatorConfig
from kubeplan.core.versions import (
    Conversion,
    Version,
    VersionError,
    VersionSet,
    versions_tuple,
)


@attrs.frozen
class OperatorDefinition:
    """Everything needed to run, plan, test and deploy one operator.

    ``handler`` is a sync function or an object with ``sync`` (and optional ``finalize``).
    ``spec_class`` / ``status_class`` are attrs classes describing the parent's spec and
    status; when given, ``kubeplan crd`` derives the CRD's schema from them. ``crd`` is an
    explicit CustomResourceDefinition (a dict) that takes precedence when given.

    ``versions`` (several ``Version``s, one with ``storage=True``) and ``conversions``
    (``(from, to)`` -> a pure function, see ``kubeplan.core.versions``) make the parent a
    versioned type: the CRD serves every version and converts through the operator's
    webhook. ``config.parent`` names the version ``sync`` sees; its ``spec_class`` and
    ``status_class`` are the definition's when these are not given. ``version_set`` is
    the validated whole (``None`` for a type with one version).

    ``validators`` and ``mutators`` are the operator's admission webhooks (see
    ``kubeplan.core.admission``): plain functions for the parent type, or ``Validator`` /
    ``Mutator`` declarations naming another type, operations or a failure policy.
    ``admission`` is the bound whole, mutators first.
    """

    config: OperatorConfig
    handler: Any
    spec_class: type | None = None
    status_class: type | None = None
    crd: dict[str, Any] | None = None
    description: str = ""
    versions: tuple[Version, ...] = attrs.field(default=(), converter=versions_tuple)
    conversions: Mapping[tuple[str, str], Conversion] = attrs.field(factory=dict)
    validators: tuple[Validator, ...] = attrs.field(default=(), converter=validators_tuple)
    mutators: tuple[Mutator, ...] = attrs.field(default=(), converter=mutators_tuple)
    version_set: VersionSet | None = attrs.field(init=False, default=None, eq=False)
    admission: tuple[Bound, ...] = attrs.field(init=False, default=(), eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "admission", bind(
            (*self.mutators, *self.validators), self.config.parent, self.config.name))
        if not self.versions:
            if self.conversions:
                raise VersionError("conversions are declared, but no versions")
            return
        parent = self.config.parent
        version_set = VersionSet(parent.group, self.versions, self.conversions)
        own = version_set.version(parent.version)
        if not own.served:
            raise VersionError(
                f"{parent}: the operator watches version {parent.version!r}, which is not served"
            )
        object.__setattr__(self, "version_set", version_set)
        if self.spec_class is None:
            object.__setattr__(self, "spec_class", own.spec_class)
        if self.status_class is None:
            object.__setattr__(self, "status_class", own.status_class)
