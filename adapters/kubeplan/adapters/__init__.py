"""kubeplan.adapters."""

