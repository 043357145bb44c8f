"""Resources and subresources kubectl workflows and operators need (issue 14): the
``/scale`` subresource, access and identity reviews, TokenRequest, and the objects
a new namespace is given."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from apiserver_harness import CRDS, DEPLOY, START, call, crd, deployment, new_server

from kubeplan.testkit.apiserver.discovery import DiscoveryModel, api_resource_list
from kubeplan.testkit.apiserver.scale import selector_string

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def replica_set(name: str, replicas: int = 1) -> dict[str, Any]:
    body = deployment(name, replicas)
    body["kind"] = "ReplicaSet"
    return body


# --- /scale --------------------------------------------------------------------------------


async def test_get_scale_of_a_deployment_is_an_autoscaling_v1_scale() -> None:
    server = new_server(controllers=False)
    created = await call(server, "POST", DEPLOY, deployment("web", replicas=2))
    got = await call(server, "GET", f"{DEPLOY}/web/scale")
    assert got.status == 200, got.body
    meta = created.body["metadata"]
    assert got.body == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 0, "selector": "app=web"},
    }


async def test_patch_scale_changes_replicas_bumps_generation_and_records_scale_manager() -> None:
    server = new_server(controllers=False)
    await call(server, "POST", DEPLOY, deployment("web"))
    patched = await call(
        server,
        "PATCH",
        f"{DEPLOY}/web/scale",
        {"spec": {"replicas": 3}},
        content_type=MERGE,
        query={"fieldManager": "scaler"},
    )
    assert patched.status == 200, patched.body
    assert patched.body["kind"] == "Scale" and patched.body["spec"] == {"replicas": 3}
    obj = (await call(server, "GET", f"{DEPLOY}/web")).body
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["generation"] == 2
    assert patched.body["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    entry = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == "scaler")
    assert entry == {
        "manager": "scaler",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
        "subresource": "scale",
    }


async def test_put_scale_and_json_patch_scale_of_a_replica_set() -> None:
    server = new_server(controllers=False)
    rs_path = "/apis/apps/v1/namespaces/default/replicasets"
    assert (await call(server, "POST", rs_path, replica_set("r"))).status == 201
    scale = (await call(server, "GET", f"{rs_path}/r/scale")).body
    scale["spec"]["replicas"] = 5
    put = await call(server, "PUT", f"{rs_path}/r/scale", scale)
    assert put.status == 200, put.body
    assert put.body["spec"] == {"replicas": 5}
    patch = [{"op": "replace", "path": "/spec/replicas", "value": 0}]
    patched = await call(server, "PATCH", f"{rs_path}/r/scale", patch, content_type=JSON_PATCH)
    assert patched.status == 200, patched.body
    assert (await call(server, "GET", f"{rs_path}/r")).body["spec"]["replicas"] == 0
    # the PUT's resourceVersion is a precondition
    stale = await call(server, "PUT", f"{rs_path}/r/scale", scale)
    assert stale.status == 409 and stale.body["reason"] == "Conflict"


async def test_scale_refusals_name_the_problem() -> None:
    server = new_server(controllers=False)
    await call(server, "POST", DEPLOY, deployment("web"))
    negative = await call(
        server, "PATCH", f"{DEPLOY}/web/scale", {"spec": {"replicas": -1}}, content_type=MERGE
    )
    assert negative.status == 422
    assert negative.body["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    assert negative.body["details"]["kind"] == "Scale"
    missing = await call(
        server, "PATCH", f"{DEPLOY}/nope/scale", {"spec": {"replicas": 1}}, content_type=MERGE
    )
    assert missing.status == 404
    assert missing.body["message"] == 'deployments.apps "nope" not found'
    # a subresource that is not served is a 404, a verb the scale does not take a 405
    assert (await call(server, "GET", "/api/v1/namespaces/default/configmaps/x/scale")).status == (
        404
    )
    assert (await call(server, "DELETE", f"{DEPLOY}/web/scale")).status == 405


async def test_statefulset_scale_reads_a_match_expressions_selector() -> None:
    server = new_server(controllers=False)
    sts = deployment("db", replicas=1)
    sts["kind"] = "StatefulSet"
    sts["spec"]["selector"] = {
        "matchLabels": {"app": "db"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
    }
    sts["spec"]["template"]["metadata"]["labels"]["tier"] = "a"
    path = "/apis/apps/v1/namespaces/default/statefulsets"
    assert (await call(server, "POST", path, sts)).status == 201
    got = await call(server, "GET", f"{path}/db/scale")
    assert got.body["status"]["selector"] == "app=db,tier in (a,b)"


def test_selector_string_renders_every_operator_sorted_by_key() -> None:
    selector = {
        "matchLabels": {"z": "1"},
        "matchExpressions": [
            {"key": "b", "operator": "NotIn", "values": ["y", "x"]},
            {"key": "a", "operator": "Exists"},
            {"key": "c", "operator": "DoesNotExist"},
        ],
    }
    assert selector_string(selector) == "a,b notin (x,y),!c,z=1"
    assert selector_string({"app": "rc"}) == "app=rc"  # a ReplicationController's map
    assert selector_string(None) == ""


async def test_custom_resource_scale_follows_the_crd_paths() -> None:
    server = new_server()
    definition = crd()
    version = definition["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    schema["spec"]["properties"]["count"] = {"type": "integer"}
    schema["status"]["properties"]["have"] = {"type": "integer"}
    schema["status"]["properties"]["sel"] = {"type": "string"}
    version["subresources"] = {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.count",
            "statusReplicasPath": ".status.have",
            "labelSelectorPath": ".status.sel",
        },
    }
    assert (await call(server, "POST", CRDS, definition)).status == 201
    await server.settle()
    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "count": 2},
    }
    assert (await call(server, "POST", widgets, body)).status == 201
    status_patch = {"status": {"have": 2, "sel": "app=w"}}
    assert (
        await call(server, "PATCH", f"{widgets}/w/status", status_patch, content_type=MERGE)
    ).status == 200
    got = await call(server, "GET", f"{widgets}/w/scale")
    assert got.body["spec"] == {"replicas": 2}
    assert got.body["status"] == {"replicas": 2, "selector": "app=w"}
    patched = await call(
        server, "PATCH", f"{widgets}/w/scale", {"spec": {"replicas": 7}}, content_type=MERGE
    )
    assert patched.status == 200, patched.body
    assert patched.body["kind"] == "Scale" and patched.body["spec"] == {"replicas": 7}
    obj = (await call(server, "GET", f"{widgets}/w")).body
    assert obj["spec"]["count"] == 7 and obj["metadata"]["generation"] == 2


async def test_discovery_lists_the_scale_subresources() -> None:
    server = new_server(controllers=False)
    model = DiscoveryModel.from_resources(server.registry.resources())
    gv = model.group_version("apps", "v1")
    assert gv is not None
    body = api_resource_list(gv)
    entries = {r["name"]: r for r in body["resources"]}
    for name in ("deployments/scale", "replicasets/scale", "statefulsets/scale"):
        assert entries[name]["kind"] == "Scale"
        assert entries[name]["group"] == "autoscaling" and entries[name]["version"] == "v1"
        assert entries[name]["verbs"] == ["get", "patch", "update"]
    assert "daemonsets/scale" not in entries


# --- reviews -------------------------------------------------------------------------------

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def access_review(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": spec,
    }


async def test_self_subject_access_review_allows_the_admin_and_echoes_the_spec() -> None:
    server = new_server(controllers=False)
    before = server.resource_version
    attributes = {
        "namespace": "default",
        "verb": "create",
        "group": "apps",
        "resource": "deployments",
    }
    answer = await call(server, "POST", SSAR, access_review(resourceAttributes=attributes))
    assert answer.status == 201, answer.body
    assert answer.body["kind"] == "SelfSubjectAccessReview"
    assert answer.body["spec"] == {"resourceAttributes": attributes}
    assert answer.body["status"] == {"allowed": True}
    (entry,) = answer.body["metadata"]["managedFields"]
    assert entry["manager"] == "tests" and entry["operation"] == "Update"
    assert server.resource_version == before  # nothing stored
    non_resource = access_review(nonResourceAttributes={"path": "/healthz", "verb": "get"})
    assert (await call(server, "POST", SSAR, non_resource)).body["status"] == {"allowed": True}


async def test_access_review_refusals_match_the_real_server() -> None:
    server = new_server(controllers=False)
    empty = await call(server, "POST", SSAR, access_review())
    assert empty.status == 422
    assert empty.body["message"] == (
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified"
    )
    both = access_review(
        resourceAttributes={"verb": "get", "resource": "pods"},
        nonResourceAttributes={"path": "/x", "verb": "get"},
    )
    refused = await call(server, "POST", SSAR, both)
    assert refused.status == 422
    assert refused.body["details"]["causes"][0]["message"] == (
        'Invalid value: {"Path":"/x","Verb":"get"}: cannot be specified in combination with '
        "resourceAttributes"
    )
    listing = await call(server, "GET", SSAR)
    assert listing.status == 405
    assert listing.body["message"] == (
        "the server does not allow this method on the requested resource"
    )


async def test_self_subject_review_names_the_caller() -> None:
    server = new_server(controllers=False)
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = await call(server, "POST", SSR, body)
    assert answer.status == 201, answer.body
    assert answer.body == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": "2024-05-01T10:00:00Z"},
        "status": {
            "userInfo": {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
        },
    }
    wrong = await call(server, "POST", SSR, {**body, "kind": "TokenReview"})
    assert wrong.status == 400 and "Kind=TokenReview" in wrong.body["message"]


# --- TokenRequest --------------------------------------------------------------------------

SA = "/api/v1/namespaces/default/serviceaccounts"


def _claims(token: str) -> dict[str, Any]:
    header, payload, signature = token.split(".")
    assert signature and json.loads(_unb64(header))["alg"] == "RS256"
    return dict(json.loads(_unb64(payload)))


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def test_token_request_answers_a_jwt_shaped_token_with_the_real_claims() -> None:
    server = new_server(controllers=False)
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}
    created = await call(server, "POST", SA, account)
    uid = created.body["metadata"]["uid"]
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    answer = await call(server, "POST", f"{SA}/bot/token", body)
    assert answer.status == 201, answer.body
    assert answer.body["kind"] == "TokenRequest"
    assert answer.body["metadata"]["uid"] == uid and answer.body["metadata"]["name"] == "bot"
    assert answer.body["spec"] == {
        "audiences": ["https://kubernetes.default.svc.cluster.local"],
        "expirationSeconds": 3600,
        "boundObjectRef": None,
    }
    assert answer.body["status"]["expirationTimestamp"] == "2024-05-01T11:00:00Z"
    claims = _claims(answer.body["status"]["token"])
    iat = int(START.timestamp())
    assert claims["iat"] == iat and claims["nbf"] == iat and claims["exp"] == iat + 3600
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["sub"] == "system:serviceaccount:default:bot"
    assert claims["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "bot", "uid": uid},
    }
    (entry,) = answer.body["metadata"]["managedFields"]
    assert entry["subresource"] == "token"
    assert entry["fieldsV1"] == {"f:spec": {"f:expirationSeconds": {}}}
    longer = {**body, "spec": {"expirationSeconds": 7200, "audiences": ["vault"]}}
    answer = await call(server, "POST", f"{SA}/bot/token", longer)
    claims = _claims(answer.body["status"]["token"])
    assert claims["exp"] - claims["iat"] == 7200 and claims["aud"] == ["vault"]


async def test_token_request_refusals() -> None:
    server = new_server(controllers=False)
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}}
    await call(server, "POST", SA, account)
    short = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 599},
    }
    refused = await call(server, "POST", f"{SA}/bot/token", short)
    assert refused.status == 422
    assert refused.body["message"] == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
        "Invalid value: 599: may not specify a duration less than 10 minutes"
    )
    missing = await call(server, "POST", f"{SA}/nope/token", {**short, "spec": {}})
    assert missing.status == 404
    assert missing.body["message"] == 'serviceaccounts "nope" not found'
    assert (await call(server, "GET", f"{SA}/bot/token")).status == 405



async def test_a_token_bound_to_an_object_needs_that_object_and_names_it() -> None:
    # the real server's answers to `kubectl create token --bound-object-kind ...`
    server = new_server(controllers=False)
    for body in (
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "other"}},
    ):
        await call(server, "POST", SA, body)
    secret = (await call(server, "POST", "/api/v1/namespaces/default/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}})).body
    pod = (await call(server, "POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
        "spec": {"serviceAccountName": "bot", "containers": [{"name": "c", "image": "i"}]},
    })).body

    async def bound(ref: dict[str, Any], account: str = "bot") -> Any:
        return await call(server, "POST", f"{SA}/{account}/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"boundObjectRef": ref}})

    answer = await bound({"kind": "Secret", "apiVersion": "v1", "name": "sec"})
    assert answer.status == 201, answer.body
    assert answer.body["spec"]["boundObjectRef"] == {
        "kind": "Secret", "apiVersion": "v1", "name": "sec"}
    claims = _claims(answer.body["status"]["token"])["kubernetes.io"]
    assert claims["secret"] == {"name": "sec", "uid": secret["metadata"]["uid"]}
    answer = await bound({"kind": "Pod", "apiVersion": "v1", "name": "p1"})
    claims = _claims(answer.body["status"]["token"])["kubernetes.io"]
    assert claims["pod"] == {"name": "p1", "uid": pod["metadata"]["uid"]}

    refusals = [
        ({"kind": "Secret", "apiVersion": "v1", "name": "missing"}, "bot", 404,
         'secrets "missing" not found'),
        ({"kind": "Node", "apiVersion": "v1", "name": "n1"}, "bot", 404,
         'nodes "n1" not found'),
        ({"kind": "Secret", "apiVersion": "v1", "name": "sec", "uid": "wrong"}, "bot", 409,
         'Operation cannot be fulfilled on Secret "sec": the UID in the bound object '
         "reference (wrong) does not match the UID in record. The object might have been "
         "deleted and then recreated"),
        ({"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}, "bot", 400,
         "cannot bind token to object of type /v1, Kind=ConfigMap"),
        ({"kind": "Secret", "apiVersion": "apps/v1", "name": "sec"}, "bot", 400,
         "cannot bind token to object of type apps/v1, Kind=Secret"),
        ({"kind": "Secret", "apiVersion": "v1"}, "bot", 400, "Name parameter required."),
        ({"kind": "Pod", "apiVersion": "v1", "name": "p1"}, "other", 400,
         'cannot bind token for serviceaccount "other" to pod running with different '
         "serviceaccount name."),
    ]
    for ref, account, code, message in refusals:
        refused = await bound(ref, account)
        assert (refused.status, refused.body["message"]) == (code, message), ref

# --- what a namespace is given -------------------------------------------------------------

DEFAULTS = {"garbagecollector", "namespace", "serviceaccount", "rootca"}
NAMESPACES = "/api/v1/namespaces"


async def test_a_new_namespace_gets_a_default_account_and_the_root_ca() -> None:
    server = new_server(controllers=DEFAULTS)
    created = await call(
        server,
        "POST",
        NAMESPACES,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
    )
    assert created.status == 201
    await server.settle()
    account = (await call(server, "GET", f"{NAMESPACES}/team/serviceaccounts/default")).body
    assert account["kind"] == "ServiceAccount" and "managedFields" not in account["metadata"]
    ca = (await call(server, "GET", f"{NAMESPACES}/team/configmaps/kube-root-ca.crt")).body
    assert ca["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert ca["metadata"]["annotations"]["kubernetes.io/description"].startswith(
        "Contains a CA bundle"
    )
    assert ca["metadata"]["managedFields"][0]["manager"] == "kube-controller-manager"
    # the namespaces that exist from the start have them too
    for name in ("default", "kube-system", "kube-public"):
        path = f"{NAMESPACES}/{name}/serviceaccounts/default"
        assert (await call(server, "GET", path)).status == 200, name


async def test_namespace_defaults_come_back_when_deleted_or_changed() -> None:
    server = new_server(controllers=DEFAULTS)
    await server.settle()
    account = f"{NAMESPACES}/default/serviceaccounts/default"
    ca = f"{NAMESPACES}/default/configmaps/kube-root-ca.crt"
    old_uid = (await call(server, "GET", account)).body["metadata"]["uid"]
    assert (await call(server, "DELETE", account)).status == 200
    patch = {"data": {"ca.crt": "tampered"}}
    assert (await call(server, "PATCH", ca, patch, content_type=MERGE)).status == 200
    await server.settle()
    again = (await call(server, "GET", account)).body
    assert again["metadata"]["uid"] != old_uid
    restored = (await call(server, "GET", ca)).body
    assert restored["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    assert (await call(server, "DELETE", ca)).status == 200
    await server.settle()
    assert (await call(server, "GET", ca)).status == 200


async def test_namespace_defaults_are_opt_in_and_leave_a_terminating_namespace_alone() -> None:
    plain = new_server()
    await plain.settle()
    path = f"{NAMESPACES}/default/serviceaccounts/default"
    assert (await call(plain, "GET", path)).status == 404
    server = new_server(controllers=DEFAULTS)
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}
    await call(server, "POST", NAMESPACES, body)
    await server.settle()
    assert (await call(server, "DELETE", f"{NAMESPACES}/gone")).status == 200
    await server.settle()
    assert (await call(server, "GET", f"{NAMESPACES}/gone")).status == 404
    assert server.store.objects("serviceaccounts", "gone") == []
    assert server.store.objects("configmaps", "gone") == []


# --- kinds the real server serves ------------------------------------------------------------

#: (apiVersion, plural, namespaced, short names, categories, subresources, keeps generation)
#: as the real v1.36 server's discovery and its create answers say
SERVED = [
    ("v1", "nodes", False, ["no"], [], {"status"}, False),
    ("v1", "replicationcontrollers", True, ["rc"], ["all"], {"status", "scale"}, True),
    ("v1", "endpoints", True, ["ep"], [], set(), False),
    ("v1", "resourcequotas", True, ["quota"], [], {"status"}, False),
    ("v1", "limitranges", True, ["limits"], [], set(), False),
    ("v1", "persistentvolumes", False, ["pv"], [], {"status"}, False),
    ("discovery.k8s.io/v1", "endpointslices", True, [], [], set(), True),
    ("autoscaling/v2", "horizontalpodautoscalers", True, ["hpa"], ["all"], {"status"}, False),
    ("autoscaling/v1", "horizontalpodautoscalers", True, ["hpa"], ["all"], {"status"}, False),
    ("storage.k8s.io/v1", "storageclasses", False, ["sc"], [], set(), False),
    ("scheduling.k8s.io/v1", "priorityclasses", False, ["pc"], [], set(), True),
    (
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        False,
        [],
        ["api-extensions"],
        set(),
        True,
    ),
    (
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        False,
        [],
        ["api-extensions"],
        set(),
        True,
    ),
]


@pytest.mark.parametrize(
    ("api_version", "plural", "namespaced", "short", "categories", "subs", "generation"),
    SERVED,
    ids=[row[1] if row[0] != "autoscaling/v1" else f"{row[1]}-v1" for row in SERVED],
)
async def test_served_kind_discovery_and_crud(
    api_version: str,
    plural: str,
    namespaced: bool,
    short: list[str],
    categories: list[str],
    subs: set[str],
    generation: bool,
) -> None:
    server = new_server(controllers=False)
    group, _, version = api_version.rpartition("/")
    model = DiscoveryModel.from_resources(server.registry.resources())
    gv = model.group_version(group, version)
    assert gv is not None
    entries = {r["name"]: r for r in api_resource_list(gv)["resources"]}
    entry = entries[plural]
    assert entry["namespaced"] is namespaced
    assert entry.get("shortNames", []) == short
    assert entry.get("categories", []) == categories
    assert entry["verbs"] == [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    assert {n.split("/")[1] for n in entries if n.startswith(f"{plural}/")} == subs
    base = f"/apis/{api_version}" if group else f"/api/{api_version}"
    path = f"{base}/namespaces/default/{plural}" if namespaced else f"{base}/{plural}"
    kind = entry["kind"]
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    if plural == "replicationcontrollers":  # the real server requires a pod template
        body["spec"] = {"template": RC_TEMPLATE}
    if plural == "horizontalpodautoscalers":  # and a target and a maximum
        body["spec"] = {"maxReplicas": 2, "scaleTargetRef": {
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}}
    created = await call(server, "POST", path, body)
    assert created.status == 201, created.body
    assert ("generation" in created.body["metadata"]) is generation
    listed = await call(server, "GET", path)
    assert listed.body["kind"] == f"{kind}List"
    assert [i["metadata"]["name"] for i in listed.body["items"]] == ["x"]
    assert (await call(server, "DELETE", f"{path}/x")).status == 200


#: a pod template a ReplicationController's validation accepts (labels app=rc)
RC_TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "rc"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
}


async def test_replication_controller_scale_reads_its_plain_selector() -> None:
    server = new_server(controllers=False)
    path = "/api/v1/namespaces/default/replicationcontrollers"
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc"},
        "spec": {"replicas": 2, "selector": {"app": "rc"}, "template": RC_TEMPLATE},
    }
    assert (await call(server, "POST", path, rc)).status == 201
    got = await call(server, "GET", f"{path}/rc/scale")
    assert got.body["spec"] == {"replicas": 2} and got.body["status"]["selector"] == "app=rc"


# --- pods/eviction ---------------------------------------------------------------------------

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def eviction(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


async def test_evicting_a_pending_pod_deletes_it() -> None:
    server = new_server(controllers=False)
    await call(server, "POST", PODS, pod("p"))
    answer = await call(server, "POST", f"{PODS}/p/eviction", eviction("p"))
    assert answer.status == 201, answer.body
    assert answer.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
    assert (await call(server, "GET", f"{PODS}/p")).status == 404
    missing = await call(server, "POST", f"{PODS}/p/eviction", eviction("p"))
    assert missing.status == 404 and missing.body["message"] == 'pods "p" not found'
    await call(server, "POST", PODS, pod("q"))
    other = await call(server, "POST", f"{PODS}/q/eviction", eviction("other"))
    assert other.status == 400
    assert other.body["message"] == "name in URL does not match name in Eviction object"
    assert (await call(server, "GET", f"{PODS}/q/eviction")).status == 405


async def test_a_running_pod_is_evicted_only_while_its_budget_allows() -> None:
    server = new_server(controllers=False)
    await call(server, "POST", PODS, pod("p"))
    running = {"status": {"phase": "Running"}}
    assert (
        await call(server, "PATCH", f"{PODS}/p/status", running, content_type=MERGE)
    ).status == 200
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "b"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}},
    }
    assert (await call(server, "POST", PDBS, pdb)).status == 201
    refused = await call(server, "POST", f"{PODS}/p/eviction", eviction("p"))
    assert refused.status == 429
    assert refused.body["message"] == (
        "Cannot evict pod as it would violate the pod's disruption budget."
    )
    assert (await call(server, "GET", f"{PODS}/p")).status == 200
    allow = {"status": {"disruptionsAllowed": 1}}
    assert (
        await call(server, "PATCH", f"{PDBS}/b/status", allow, content_type=MERGE)
    ).status == 200
    allowed = await call(server, "POST", f"{PODS}/p/eviction", eviction("p"))
    assert allowed.status == 201, allowed.body
    assert (await call(server, "GET", f"{PODS}/p")).status == 404
    budget = (await call(server, "GET", f"{PDBS}/b")).body
    assert budget["status"]["disruptionsAllowed"] == 0


async def test_openapi_offers_a_review_only_its_post() -> None:
    from kubeplan.testkit.apiserver import openapi

    server = new_server(controllers=False)
    model = DiscoveryModel.from_resources(server.registry.resources())
    document = openapi.group_version_document_v3(model, "authorization.k8s.io", "v1")
    assert document is not None
    paths = {path: set(item) - {"parameters"} for path, item in document["paths"].items()}
    # upstream's document: the group version's discovery GET, and the review's POST only
    assert paths == {"/apis/authorization.k8s.io/v1/": {"get"},
                     "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews": {"post"},
                     "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews": {"post"}}
