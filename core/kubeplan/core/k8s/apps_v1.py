"""apps/v1 resource types."""

from kubeplan.core.types import K8sType

Deployment = K8sType("apps/v1", "Deployment", "deployments", namespaced=True)
StatefulSet = K8sType("apps/v1", "StatefulSet", "statefulsets", namespaced=True)
DaemonSet = K8sType("apps/v1", "DaemonSet", "daemonsets", namespaced=True)
ReplicaSet = K8sType("apps/v1", "ReplicaSet", "replicasets", namespaced=True)
