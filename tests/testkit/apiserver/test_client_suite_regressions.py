"""Fidelity bugs the official client's own e2e suite found (tests/real/client_suites.py):
each passed on the real server and failed on the fake."""

from __future__ import annotations

from typing import Any

from apiserver_harness import call, new_server

from kubeplan.testkit.apiserver.writes import RETURNS_DELETED_OBJECT

NS = "/api/v1/namespaces/default"


def rc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"app": name},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


async def test_a_replication_controllers_status_writes_replicas_at_zero() -> None:
    # ReplicationControllerStatus.replicas has no omitempty: the client's model requires it
    server = new_server()
    response = await call(server, "POST", f"{NS}/replicationcontrollers", rc("r1"))
    assert response.status == 201, response.body
    assert response.body is not None and response.body["status"] == {"replicas": 0}


async def test_deleting_a_service_answers_the_service() -> None:
    server = new_server()
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s1"},
           "spec": {"selector": {"app": "s1"}, "ports": [{"port": 80}]}}
    assert (await call(server, "POST", f"{NS}/services", svc)).status == 201
    response = await call(server, "DELETE", f"{NS}/services/s1")
    assert response.status == 200
    assert response.body is not None
    assert response.body["kind"] == "Service" and response.body["metadata"]["name"] == "s1"
    assert (await call(server, "GET", f"{NS}/services/s1")).status == 404


async def test_deleting_a_config_map_still_answers_a_status() -> None:
    server = new_server()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}}
    assert (await call(server, "POST", f"{NS}/configmaps", cm)).status == 201
    response = await call(server, "DELETE", f"{NS}/configmaps/c1")
    assert response.status == 200
    assert response.body is not None and response.body["kind"] == "Status"
    assert ("", "configmaps") not in RETURNS_DELETED_OBJECT
