"""What deploying an operator needs, derived from its definition (pure: no I/O).

``manifests_for(definition, target=...)`` returns, in apply order: the CRD, the
Namespace the operator runs in (included so the output applies to an empty cluster;
drop it when the namespace is managed elsewhere), a ServiceAccount, the RBAC that
grants exactly what kubeplan does with the declared types, its binding(s) and a
Deployment running ``kubeplan run MODULE:ATTR`` with health probes.

Least privilege, from the declared types and nothing else:

* the parent type: ``get list watch`` (the cache), ``patch update`` (finalizers);
  ``<plural>/status``: ``get patch update`` (status writes); ``<plural>/finalizers``:
  ``update`` (every child's ownerReference sets ``blockOwnerDeletion``, which an API
  server running the ``OwnerReferencesPermissionEnforcement`` admission plugin allows
  only to whoever may update the owner's finalizers);
* every child type: ``get list watch create patch update delete`` (plan actions);
* every related type (``config.with_related``): ``get list watch`` (read-only: a cache);
* Secrets ``get`` when an external source's token is in one (``HttpSource(token_secret=...)``);
* core ``events``: ``create patch`` (Events on the parent, aggregated by patching);
* ``coordination.k8s.io`` ``leases``: ``get list watch create update patch delete``, when
  leader election (or sharding) is on, granted only in the operator's own namespace
  (``delete``: a shard member removes its own Lease on a graceful stop and collects
  long-expired members' Leases).

A decorator (``config.decorating()``) does not own its parent type: no CRD is printed, the
parent gets ``get list watch`` (plus ``patch update`` only when the handler has ``finalize``)
and no ``/status`` verbs unless the decorator writes a custom resource's status. A built-in
parent type never has a CRD.

When the operator is restricted to namespaces (``config.namespaces``) and every
declared type is namespaced, the grants are a Role + RoleBinding per namespace;
otherwise one ClusterRole + ClusterRoleBinding.

``group_manifests_for(definitions, targets=...)`` does the same for several operators in
one Deployment (``kubeplan run A B``): every CRD, one ServiceAccount, each operator's own
least-privilege RBAC (its roles named ``NAME-OPERATOR``) bound to that one account, the
Lease role once, and one Deployment running every target.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubeplan.core import admission, versions
from kubeplan.core.crd import crd_of
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.k8s import is_builtin
from kubeplan.core.types import K8sType

if TYPE_CHECKING:  # only for annotations: the config module imports nothing of ours back
    from kubeplan.core.config import OperatorConfig
    from kubeplan.core.definition import OperatorDefinition

Manifest = dict[str, Any]

PARENT_VERBS = ("get", "list", "watch", "patch", "update")
DECORATED_VERBS = ("get", "list", "watch")
STATUS_VERBS = ("get", "patch", "update")
FINALIZERS_VERBS = ("update",)
CHILD_VERBS = ("get", "list", "watch", "create", "patch", "update", "delete")
RELATED_VERBS = ("get", "list", "watch")
EVENT_VERBS = ("create", "patch")
LEASE_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")

#: the port ``kubeplan run --health-port`` serves /healthz, /readyz and /metrics on
#: (adapters.settings.RuntimeSettings.health_port has no default, so the Deployment
#: passes it explicitly)
HEALTH_PORT = 8080
#: tells ``kubeplan run`` in the pod whether to take part in Lease-based leader election
LEADER_ELECTION_ENV = "KUBEPLAN_LEADER_ELECTION"
#: where the pod mounts its webhook certificate (the Secret's ``tls.crt`` and ``tls.key``)
WEBHOOK_CERT_DIR = "/etc/kubeplan/webhook"
#: cert-manager's CA injector fills a CRD's caBundle from the Certificate this names
CA_INJECT_ANNOTATION = "cert-manager.io/inject-ca-from"
DEFAULT_IMAGE = "ghcr.io/kubeplan/operator:latest"
DEFAULT_NAMESPACE = versions.DEFAULT_NAMESPACE
#: the uid the Dockerfile's user has; a numeric uid lets the kubelet verify runAsNonRoot
RUN_AS_USER = 10001
DEFAULT_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}

_VERB_ORDER = {v: i for i, v in enumerate(
    ("get", "list", "watch", "create", "update", "patch", "delete")
)}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --------------------------------------------------------------------------------------
# RBAC


def _grants(
    config: OperatorConfig, has_finalize: bool = True
) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs, for the parent, its status, children and events."""
    grants: dict[tuple[str, str], set[str]] = {}

    def add(group: str, resource: str, verbs: Iterable[str]) -> None:
        grants.setdefault((group, resource), set()).update(verbs)

    parent = config.parent
    if config.decorator is None:
        add(parent.group, parent.plural, PARENT_VERBS)
    else:  # not ours: read it, and write only its finalizers (when there is a finalize)
        add(parent.group, parent.plural,
            PARENT_VERBS if has_finalize else DECORATED_VERBS)
    if config.writes_status:
        add(parent.group, f"{parent.plural}/status", STATUS_VERBS)
    add(parent.group, f"{parent.plural}/finalizers", FINALIZERS_VERBS)
    for child in config.children:
        add(child.group, child.plural, CHILD_VERBS)
    for related in config.related_types:
        add(related.group, related.plural, RELATED_VERBS)
    if any(getattr(d.source, "token_secret", None) is not None for d in config.sources.values()):
        add("", "secrets", {"get"})  # an external source's bearer token, read at each poll
    add("", "events", EVENT_VERBS)
    return grants


def _rules(grants: Mapping[tuple[str, str], set[str]]) -> list[Manifest]:
    """PolicyRules: one per (apiGroup, verb set), resources sorted, rules in stable order."""
    by_group_verbs: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in grants.items():
        ordered = tuple(sorted(verbs, key=lambda v: (_VERB_ORDER.get(v, 99), v)))
        by_group_verbs.setdefault((group, ordered), []).append(resource)
    return [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in sorted(by_group_verbs.items())
    ]


def lease_rules() -> list[Manifest]:
    """The rules leader election (and sharding) needs, in the operator's namespace."""
    return _rules({("coordination.k8s.io", "leases"): set(LEASE_VERBS)})


def rbac_rules(
    config: OperatorConfig, *, leader_election: bool = True, has_finalize: bool = True
) -> list[Manifest]:
    """Every PolicyRule the operator needs, grouped by apiGroup and sorted (pure).

    ``manifests_for`` grants the lease rules separately, in the operator's namespace only.
    ``has_finalize``: whether the handler has ``finalize`` (a decorator writes its parent
    only for the finalizer).
    """
    grants = _grants(config, has_finalize)
    if leader_election:
        grants[("coordination.k8s.io", "leases")] = set(LEASE_VERBS)
    return _rules(grants)


def _declared_types(config: OperatorConfig) -> list[K8sType]:
    return [config.parent, *config.children, *config.related_types]


# --------------------------------------------------------------------------------------
# the manifests


def manifests_for(
    definition: OperatorDefinition,
    *,
    target: str,
    namespace: str = DEFAULT_NAMESPACE,
    image: str = DEFAULT_IMAGE,
    replicas: int = 1,
    leader_election: bool | None = None,
    cluster_scoped: bool | None = None,
    health_port: int = HEALTH_PORT,
    resources: Mapping[str, Mapping[str, str]] = DEFAULT_RESOURCES,
    include_namespace: bool = True,
    webhook_ca: str | None = None,
) -> list[Manifest]:
    """The objects to apply, in order, to run ``definition`` in a cluster (pure).

    A versioned parent (``versions=``) adds its conversion webhook: a Service in front of
    the pods' ``webhook`` port, the CRD's clientConfig naming it, the serving certificate
    mounted from the Secret ``<name>-webhook-tls``. The certificate comes from cert-manager
    (a self-signed Issuer and a Certificate, and the CRD's ``cert-manager.io/inject-ca-from``
    annotation) unless ``webhook_ca`` (the PEM text of the CA that signed a Secret you
    create yourself) is given: then it is the CRD's ``caBundle``.

    Admission webhooks (``validators=``, ``mutators=``) add a ValidatingWebhookConfiguration
    and a MutatingWebhookConfiguration (each when it has webhooks; rules from each webhook's
    type and operations, ``sideEffects: None``, ``admissionReviewVersions: [v1]``, its
    failure policy and timeout) calling the same Service at each webhook's path, with the
    same certificate: the CA from ``webhook_ca`` or cert-manager's injection annotation.

    ``target`` is the ``MODULE:ATTR`` the container passes to ``kubeplan run``.
    ``leader_election`` defaults to ``replicas > 1``. ``cluster_scoped`` forces a
    ClusterRole (True) or Roles (False); by default Roles are used exactly when the
    operator is restricted to namespaces and all its types are namespaced.
    """
    config = definition.config
    if replicas < 1:
        raise InvalidArgument(f"replicas must be at least 1, got {replicas}")
    if not target or ":" not in target:
        raise InvalidArgument(f"target must be MODULE:ATTR naming the operator, got {target!r}")
    _check_dns_label(namespace, "namespace")
    name = _dns_name(config.name)
    leader_election = _leader_election(replicas, leader_election)
    scoped = _use_roles(config, cluster_scoped)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "operator",
        "app.kubernetes.io/managed-by": "kubeplan",
    }
    versioned = definition.version_set is not None and definition.crd is None
    service = versions.webhook_service_name(config.name)
    out: list[Manifest] = []
    if config.decorator is not None or is_builtin(config.parent):
        pass  # a decorated type's CRD is someone else's
    elif versioned:
        bundle = base64.b64encode(webhook_ca.encode()).decode("ascii") if webhook_ca else None
        crd = crd_of(definition, webhook_client_config=versions.service_client_config(
            service, namespace, ca_bundle=bundle))
        if not webhook_ca:
            crd["metadata"]["annotations"] = {CA_INJECT_ANNOTATION: f"{namespace}/{service}"}
        out.append(crd)
    else:
        out.append(crd_of(definition))
    if include_namespace:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    out.append(_meta("v1", "ServiceAccount", name, namespace, labels))
    has_finalize = HandlerInfo.of(definition.handler).has_finalize
    out.extend(_rbac(config, name, namespace, labels, scoped=scoped,
                     has_finalize=has_finalize))
    if leader_election:
        out.extend(_lease_rbac(name, namespace, labels))
    deployment = _deployment(
        name, namespace, labels,
        target=target, image=image, replicas=replicas,
        leader_election=leader_election, health_port=health_port, resources=resources,
    )
    if versioned or definition.admission:
        out.extend(_webhook_objects(name, service, namespace, labels,
                                    cert_manager=not webhook_ca))
        _serve_webhook(deployment, f"{service}-tls")
    out.extend(_admission_configurations(definition, service, namespace, webhook_ca))
    out.append(deployment)
    return out


def _admission_configurations(
    definition: OperatorDefinition, service: str, namespace: str, webhook_ca: str | None
) -> list[Manifest]:
    """The operator's Validating/MutatingWebhookConfigurations, calling its Service."""
    if not definition.admission:
        return []
    bundle = base64.b64encode(webhook_ca.encode()).decode("ascii") if webhook_ca else None

    def client_config(path: str) -> Manifest:
        config = versions.service_client_config(service, namespace, ca_bundle=bundle)
        config["service"]["path"] = path
        return config

    annotations = None if webhook_ca else {CA_INJECT_ANNOTATION: f"{namespace}/{service}"}
    return admission.configurations(
        definition.admission, admission.configuration_name(definition.config.name),
        client_config, annotations=annotations)


def group_manifests_for(
    definitions: Sequence[OperatorDefinition],
    *,
    targets: Sequence[str],
    name: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    image: str = DEFAULT_IMAGE,
    replicas: int = 1,
    leader_election: bool | None = None,
    health_port: int = HEALTH_PORT,
    resources: Mapping[str, Mapping[str, str]] = DEFAULT_RESOURCES,
    include_namespace: bool = True,
) -> list[Manifest]:
    """The objects to apply, in order, to run several operators in one Deployment (pure).

    ``targets`` are their ``MODULE:ATTR``, in the order of ``definitions``; ``name``
    names the ServiceAccount and the Deployment (default: the operators' names joined by
    ``-``). Each operator's RBAC is its own (roles ``NAME-OPERATOR``), so the account
    holds the union of their grants and no more. Scoping as ``manifests_for``."""
    if len(definitions) != len(targets):
        raise InvalidArgument(f"{len(definitions)} operators but {len(targets)} targets")
    if not definitions:
        raise InvalidArgument("no operators to deploy")
    names = [d.config.name for d in definitions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidArgument(f"two operators are named {repeated[0]!r}: the operators of one "
                         "process need unique names")
    for target in targets:
        if not target or ":" not in target:
            raise InvalidArgument(f"target must be MODULE:ATTR naming an operator, got {target!r}")
    if replicas < 1:
        raise InvalidArgument(f"replicas must be at least 1, got {replicas}")
    _check_dns_label(namespace, "namespace")
    name = name if name is not None else _dns_name("-".join(names))
    _check_dns_label(name, "name")
    leader_election = _leader_election(replicas, leader_election)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "operator",
        "app.kubernetes.io/managed-by": "kubeplan",
    }
    out: list[Manifest] = []
    crds: set[str] = set()
    for definition in definitions:
        if definition.config.decorator is not None or is_builtin(definition.config.parent):
            continue  # a decorated type's CRD is someone else's
        crd = crd_of(definition)
        if crd["metadata"]["name"] not in crds:  # two operators may share a parent type
            crds.add(crd["metadata"]["name"])
            out.append(crd)
    if include_namespace:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    out.append(_meta("v1", "ServiceAccount", name, namespace, labels))
    for definition in definitions:
        config = definition.config
        role = _dns_name(f"{name}-{config.name}")
        out.extend(_rbac(config, role, namespace, labels, scoped=_use_roles(config, None),
                         has_finalize=HandlerInfo.of(definition.handler).has_finalize,
                         account=name))
    if leader_election:
        out.extend(_lease_rbac(name, namespace, labels))
    out.append(
        _deployment(
            name, namespace, labels,
            target=targets[0], more_targets=targets[1:], image=image, replicas=replicas,
            leader_election=leader_election, health_port=health_port, resources=resources,
        )
    )
    return out


def _webhook_objects(
    name: str, service: str, namespace: str, labels: Mapping[str, str], *, cert_manager: bool
) -> list[Manifest]:
    """The Service in front of the webhook port and, with cert-manager, its certificate."""
    svc = _meta("v1", "Service", service, namespace, labels)
    svc["spec"] = {
        "selector": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "operator"},
        "ports": [{"name": "webhook", "port": versions.WEBHOOK_SERVICE_PORT,
                   "targetPort": "webhook", "protocol": "TCP"}],
    }
    if not cert_manager:
        return [svc]
    issuer = _meta("cert-manager.io/v1", "Issuer", f"{name}-selfsigned", namespace, labels)
    issuer["spec"] = {"selfSigned": {}}
    certificate = _meta("cert-manager.io/v1", "Certificate", service, namespace, labels)
    certificate["spec"] = {
        "secretName": f"{service}-tls",
        "dnsNames": [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"],
        "issuerRef": {"kind": "Issuer", "name": f"{name}-selfsigned"},
    }
    return [svc, issuer, certificate]


def _serve_webhook(deployment: Manifest, secret: str) -> None:
    """The webhook's port, certificate volume and flags, added to the operator's pod."""
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    container["args"] += [
        "--webhook-port", str(versions.WEBHOOK_PORT),
        "--tls-cert-file", f"{WEBHOOK_CERT_DIR}/tls.crt",
        "--tls-key-file", f"{WEBHOOK_CERT_DIR}/tls.key",
    ]
    container["ports"].append(
        {"name": "webhook", "containerPort": versions.WEBHOOK_PORT, "protocol": "TCP"})
    container["volumeMounts"].append(
        {"name": "webhook-tls", "mountPath": WEBHOOK_CERT_DIR, "readOnly": True})
    pod["volumes"].append({"name": "webhook-tls", "secret": {"secretName": secret}})


def _leader_election(replicas: int, asked: bool | None) -> bool:
    """Leader election when asked, else for more than one replica; never off for several
    (they would all write the same objects)."""
    leader_election = replicas > 1 if asked is None else asked
    if replicas > 1 and not leader_election:
        raise InvalidArgument(
            f"{replicas} replicas without leader election would all write the same objects; "
            "enable leader election or use one replica"
        )
    return leader_election


def _use_roles(config: OperatorConfig, cluster_scoped: bool | None) -> bool:
    restricted = config.namespaces is not None
    all_namespaced = all(t.namespaced for t in _declared_types(config))
    if cluster_scoped is None:
        return restricted and all_namespaced
    if not cluster_scoped:
        if not restricted:
            raise InvalidArgument(
                f"operator {config.name!r} watches all namespaces (config.namespaces is None); "
                "namespaced Roles cannot grant that: use a ClusterRole"
            )
        if not all_namespaced:
            cluster = [str(t) for t in _declared_types(config) if not t.namespaced]
            raise InvalidArgument(
                f"operator {config.name!r} manages cluster-scoped types {cluster}; "
                "only a ClusterRole can grant them"
            )
    return not cluster_scoped


def _rbac(
    config: OperatorConfig, name: str, namespace: str, labels: Mapping[str, str], *,
    scoped: bool, has_finalize: bool, account: str | None = None,
) -> list[Manifest]:
    """The roles (named ``name``) and bindings to ``account`` (default: ``name``)."""
    rules = _rules(_grants(config, has_finalize))
    subject = {"kind": "ServiceAccount", "name": account or name, "namespace": namespace}
    if not scoped:
        role = _meta("rbac.authorization.k8s.io/v1", "ClusterRole", name, None, labels)
        binding = _meta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name, None, labels)
        binding["roleRef"] = _role_ref("ClusterRole", name)
        binding["subjects"] = [subject]
        return [{**role, "rules": rules}, binding]
    out: list[Manifest] = []
    for ns in sorted(config.namespaces or ()):
        role = _meta("rbac.authorization.k8s.io/v1", "Role", name, ns, labels)
        binding = _meta("rbac.authorization.k8s.io/v1", "RoleBinding", name, ns, labels)
        binding["roleRef"] = _role_ref("Role", name)
        binding["subjects"] = [subject]
        out += [{**role, "rules": rules}, binding]
    return out


def _lease_rbac(name: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
    role_name = f"{name}-leader-election"
    role = _meta("rbac.authorization.k8s.io/v1", "Role", role_name, namespace, labels)
    binding = _meta("rbac.authorization.k8s.io/v1", "RoleBinding", role_name, namespace, labels)
    binding["roleRef"] = _role_ref("Role", role_name)
    binding["subjects"] = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    return [{**role, "rules": lease_rules()}, binding]


def _role_ref(kind: str, name: str) -> Manifest:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _meta(
    api_version: str, kind: str, name: str, namespace: str | None, labels: Mapping[str, str]
) -> Manifest:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(labels)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def _deployment(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    *,
    target: str,
    image: str,
    replicas: int,
    leader_election: bool,
    health_port: int,
    resources: Mapping[str, Mapping[str, str]],
    more_targets: Sequence[str] = (),
) -> Manifest:
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "operator"}
    args = [target, *more_targets, "--health-port", str(health_port)]

    def probe(path: str, period: int) -> Manifest:
        return {
            "httpGet": {"path": path, "port": "health"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        }

    container: Manifest = {
        "name": "operator",
        "image": image,
        "command": ["kubeplan", "run"],
        "args": args,
        "ports": [{"name": "health", "containerPort": health_port, "protocol": "TCP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            # read by the runtime's leader election; an env var rather than a flag, so an
            # image whose `kubeplan run` predates the option still starts
            {"name": LEADER_ELECTION_ENV, "value": "true" if leader_election else "false"},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
        ],
        "livenessProbe": {**probe("/healthz", 10), "initialDelaySeconds": 5},
        "readinessProbe": probe("/readyz", 5),
        "resources": {k: dict(v) for k, v in resources.items()},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        **_meta("apps/v1", "Deployment", name, namespace, labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            # without leader election two pods must never run at once: stop, then start
            "strategy": {"type": "RollingUpdate" if leader_election else "Recreate"},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": name,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 40,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _check_dns_label(value: str, what: str) -> None:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise InvalidArgument(
            f"{what} {value!r} is not a DNS label (lower-case letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit)"
        )


def _dns_name(operator_name: str) -> str:
    """The operator's name as a Kubernetes object name (``My_Operator`` -> ``my-operator``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", operator_name.lower()).strip("-")[:63].rstrip("-")
    if not name:
        raise InvalidArgument(
            f"operator name {operator_name!r} has no letters or digits to name its objects"
        )
    return name


__all__ = [
    "CA_INJECT_ANNOTATION",
    "CHILD_VERBS",
    "DECORATED_VERBS",
    "DEFAULT_IMAGE",
    "DEFAULT_NAMESPACE",
    "EVENT_VERBS",
    "FINALIZERS_VERBS",
    "HEALTH_PORT",
    "LEADER_ELECTION_ENV",
    "LEASE_VERBS",
    "PARENT_VERBS",
    "STATUS_VERBS",
    "WEBHOOK_CERT_DIR",
    "group_manifests_for",
    "lease_rules",
    "manifests_for",
    "rbac_rules",
]
