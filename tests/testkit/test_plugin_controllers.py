"""The ``kubeplan_controllers`` marker: emulated controllers added to the plugin's fake."""

from __future__ import annotations

import pytest

from kubeplan.core.k8s import apps_v1
from kubeplan.testkit import FakeApiServer

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


async def rolled_out(server: FakeApiServer) -> dict:
    await server.client().create(apps_v1.Deployment, DEPLOYMENT)
    await server.settle()
    got = server.get_object("apps/v1", "deployments", "web", "default")
    assert got is not None
    return got.get("status") or {}


@pytest.mark.kubeplan_controllers("kubelet", "workloads")
async def test_the_marker_adds_the_kubelet_and_workload_controllers(fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    assert {"garbagecollector", "kubelet", "workloads"} <= fake_apiserver.controllers.enabled
    status = await rolled_out(fake_apiserver)
    assert status["readyReplicas"] == status["replicas"] == 2


async def test_without_the_marker_deployments_are_records_only(fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    assert "workloads" not in fake_apiserver.controllers.enabled
    assert "replicas" not in await rolled_out(fake_apiserver)
    assert fake_apiserver.store.objects("replicasets.apps", "default") == []
