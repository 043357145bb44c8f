"""v1 resource types."""

from kubeplan.core.types import K8sType

Namespace = K8sType("v1", "Namespace", "namespaces", namespaced=False)
ConfigMap = K8sType("v1", "ConfigMap", "configmaps", namespaced=True)
Secret = K8sType("v1", "Secret", "secrets", namespaced=True)
Service = K8sType("v1", "Service", "services", namespaced=True)
ServiceAccount = K8sType("v1", "ServiceAccount", "serviceaccounts", namespaced=True)
Pod = K8sType("v1", "Pod", "pods", namespaced=True)
PersistentVolumeClaim = K8sType(
    "v1", "PersistentVolumeClaim", "persistentvolumeclaims", namespaced=True
)
Event = K8sType("v1", "Event", "events", namespaced=True)
ResourceQuota = K8sType("v1", "ResourceQuota", "resourcequotas", namespaced=True)
