"""events.k8s.io/v1 resource types."""

from kubeplan.core.types import K8sType

Event = K8sType("events.k8s.io/v1", "Event", "events", namespaced=True)
