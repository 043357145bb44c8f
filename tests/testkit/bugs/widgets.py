"""What the planted-bug operators share: the ``Widget`` parent type and a ConfigMap builder."""

from __future__ import annotations

from typing import Any

from kubeplan.core.types import K8sType

Widget = K8sType("bugs.kubeplan.dev/v1", "Widget", "widgets")


def configmap(name: str, namespace: str | None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }
