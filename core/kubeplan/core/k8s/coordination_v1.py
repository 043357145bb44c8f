"""coordination.k8s.io/v1 resource types."""

from kubeplan.core.types import K8sType

Lease = K8sType("coordination.k8s.io/v1", "Lease", "leases", namespaced=True)
