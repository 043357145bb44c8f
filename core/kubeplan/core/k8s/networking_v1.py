"""networking.k8s.io/v1 resource types."""

from kubeplan.core.types import K8sType

Ingress = K8sType("networking.k8s.io/v1", "Ingress", "ingresses", namespaced=True)
NetworkPolicy = K8sType("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", namespaced=True)
