"""The kube_apiserver fixture hands a test either server through the same face."""

from __future__ import annotations

import subprocess

import pytest

from kubeplan.testkit.endpoint import EndpointError, KubeEndpoint


def test_a_configmap_round_trips_on_the_chosen_server(kube_apiserver: KubeEndpoint) -> None:
    ns = kube_apiserver.namespace
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "round-trip"},
            "data": {"a": "1"}}
    created = kube_apiserver.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert created["metadata"]["namespace"] == ns
    got = kube_apiserver.request("GET", f"/api/v1/namespaces/{ns}/configmaps/round-trip")
    assert got["data"] == {"a": "1"}
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(EndpointError) as info:
        kube_apiserver.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert info.value.status == 409
    assert info.value.body["reason"] == "AlreadyExists"


def test_kubectl_reaches_the_chosen_server(kube_apiserver: KubeEndpoint,
                                           kubectl: str) -> None:
    out = subprocess.run([kubectl, "--kubeconfig", str(kube_apiserver.kubeconfig), "get",
                          "namespace", kube_apiserver.namespace, "-o", "name"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"namespace/{kube_apiserver.namespace}"
