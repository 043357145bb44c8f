"""rbac.authorization.k8s.io/v1 resource types."""

from kubeplan.core.types import K8sType

Role = K8sType("rbac.authorization.k8s.io/v1", "Role", "roles", namespaced=True)
RoleBinding = K8sType(
    "rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", namespaced=True
)
ClusterRole = K8sType(
    "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False
)
ClusterRoleBinding = K8sType(
    "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False
)
