"""An operator as one importable value: its config, its handler and, optionally, its CRD types.

``kubeplan run``, ``kubeplan plan``, ``kubeplan crd`` and ``kubeplan manifests`` take a
``MODULE:ATTR`` that names an ``OperatorDefinition``; tests and the runtime take its parts.
"""

from __future__ import annotations

from typing import Any

import attrs

from kubeplan.core.config import OperatorConfig


@attrs.frozen
class OperatorDefinition:
    """Everything needed to run, plan, test and deploy one operator.

    ``handler`` is a sync function or an object with ``sync`` (and optional ``finalize``).
    ``spec_class`` / ``status_class`` are attrs classes describing the parent's spec and
    status; when given, ``kubeplan crd`` derives the CRD's schema from them. ``crd`` is an
    explicit CustomResourceDefinition (a dict) that takes precedence when given.
    """

    config: OperatorConfig
    handler: Any
    spec_class: type | None = None
    status_class: type | None = None
    crd: dict[str, Any] | None = None
    description: str = ""
