"""batch/v1 resource types."""

from kubeplan.core.types import K8sType

Job = K8sType("batch/v1", "Job", "jobs", namespaced=True)
CronJob = K8sType("batch/v1", "CronJob", "cronjobs", namespaced=True)
