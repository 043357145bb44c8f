"""policy/v1 resource types."""

from kubeplan.core.types import K8sType

PodDisruptionBudget = K8sType(
    "policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", namespaced=True
)
