"""apiextensions.k8s.io/v1 resource types."""

from kubeplan.core.types import K8sType

CustomResourceDefinition = K8sType(
    "apiextensions.k8s.io/v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    namespaced=False,
)
