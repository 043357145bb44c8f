"""admissionregistration.k8s.io/v1 resource types."""

from kubeplan.core.types import K8sType

ValidatingWebhookConfiguration = K8sType(
    "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations", namespaced=False,
)
MutatingWebhookConfiguration = K8sType(
    "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
    "mutatingwebhookconfigurations", namespaced=False,
)
