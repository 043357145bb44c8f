"""kubectl's everyday workflows, with kubectl 1.27 and 1.33, on the fake as on the real
kube-apiserver (issue 14).

Each workflow is a list of kubectl commands run in a fresh namespace; its transcript
(every command, its exit code, its output and errors) is normalised where two servers
must differ -- the namespace, uids, timestamps, ages, IPs, tokens, generated name
suffixes, runs of table padding -- and compared with the transcript the real server gave
the same kubectl, kept in ``kubectl_workflows/<workflow>-<version>.txt``. So the default
run (``--kube-apiserver=fake``) holds the fake to the real server's answers, and
``--kube-apiserver=both`` checks both servers against them.

``KUBEPLAN_RECORD_KUBECTL=1`` with ``--kube-apiserver=real`` writes the transcripts anew
from the real server (then review the diff). Status written by the real server's
workload controllers is left out of the objects compared (the fake runs none of those
controllers; docs/testing.md lists the kept differences).

The fake runs over HTTPS with a token here, as kubectl sends a kubeconfig's token only
over TLS: the ServiceAccount workflows log in with ``kubectl create token``'s answer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from kubeplan.testkit.certificates import CertificateAuthority
from kubeplan.testkit.endpoint import KubeEndpoint
from kubeplan.testkit.plugin import _fresh_namespace
from kubeplan.testkit.processes import FakeApiServerProcess

pytestmark = pytest.mark.kubectl

GOLDEN = Path(__file__).with_name("kubectl_workflows")
RECORD = os.environ.get("KUBEPLAN_RECORD_KUBECTL") == "1"
#: the kubectl versions run (``KUBEPLAN_KUBECTL_VERSIONS=1.27,1.30,...`` widens them;
#: each needs its transcripts recorded)
VERSIONS = tuple(v.strip() for v in os.environ.get("KUBEPLAN_KUBECTL_VERSIONS",
                                                   "1.27,1.33").split(",") if v.strip())


def _node_port(version: str) -> str:
    """A NodePort per kubectl version (30127 for 1.27): each run on one real server must
    not take another's."""
    major, _, minor = version.partition(".")
    return str(30000 + int(major) * 100 + int(minor))


def _binary(version: str) -> str | None:
    default = shutil.which("kubectl")
    if default is None:
        return None
    candidate = Path(os.path.realpath(default)).parent / f"kubectl.{version}"
    return str(candidate) if candidate.exists() else None


# -- the servers ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _fake_over_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeEndpoint]:
    folder = tmp_path_factory.mktemp("fake-apiserver-tls")
    token = "kubectl-workflows-admin"
    with FakeApiServerProcess(folder / "kubeconfig", tls=True, token=token) as process:
        yield KubeEndpoint("fake", process.url, process.kubeconfig, token=token,
                           ca_file=process.ca_file)


@pytest.fixture
def kube_apiserver(request: pytest.FixtureRequest) -> Iterator[KubeEndpoint]:
    """The plugin's ``kube_apiserver``, with the fake served over HTTPS and a token."""
    kind = getattr(request, "param", "fake")
    session = request.getfixturevalue(
        "_real_apiserver_session" if kind == "real" else "_fake_over_tls")
    yield from _fresh_namespace(session, request)


# -- running kubectl and normalising what it says ----------------------------------------------

_UID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
_IP = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_JWT = re.compile(r"\bey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_AGE = re.compile(r"(?<=\s)(\d+(\.\d+)?[smhd])+(?=\s|$)")
_PADDING = re.compile(r"(?<=\S)[ \t]{2,}")  # a table's; indentation is kept
_RV = re.compile(r"""(resourceVersion"?:\s*)["']?\d+["']?""")
_SUFFIX = re.compile(r"\b(web|cj)-[0-9a-f]{8,10}(?=\b)")


def normalise(text: str, namespace: str, folder: Path) -> str:
    text = text.replace(str(folder), "TMP").replace(namespace, "NS")
    text = _JWT.sub("TOKEN", text)
    text = _RV.sub(r"\1RV", text)
    text = _UID.sub("UID", text)
    text = _TIME.sub("TIME", text)
    text = _IP.sub("IP", text)
    text = _SUFFIX.sub(lambda m: f"{m.group(1)}-HASH", text)
    text = _AGE.sub("AGE", text)
    lines = [_PADDING.sub("  ", line).rstrip() for line in text.splitlines()]
    return "\n".join(lines)


#: written by the real server's workload controllers, which the fake does not run
_CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def without_status(text: str) -> str:
    """An object's YAML without what controllers write (its status, their annotations)."""
    obj = yaml.safe_load(text)
    obj.pop("status", None)
    annotations = obj.get("metadata", {}).get("annotations") or {}
    for key in _CONTROLLER_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        obj.get("metadata", {}).pop("annotations", None)
    return yaml.safe_dump(obj, sort_keys=True)


@attrs.frozen
class Step:
    args: tuple[str, ...]
    stdin: str | None = None
    #: applied to stdout before it is normalised
    post: Callable[[str], str] | None = None


def step(*args: str, stdin: str | None = None,
         post: Callable[[str], str] | None = None) -> Step:
    return Step(tuple(args), stdin, post)


class Kubectl:
    def __init__(self, binary: str, endpoint: KubeEndpoint, folder: Path) -> None:
        self.binary = binary
        self.endpoint = endpoint
        self.folder = folder
        self.kubeconfig = endpoint.kubeconfig
        self.transcript: list[str] = []

    def run(self, *args: str, stdin: str | None = None,
            kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
        command = [self.binary, "--kubeconfig", str(kubeconfig or self.kubeconfig),
                   "--cache-dir", str(self.folder / "cache"), "-n", self.endpoint.namespace,
                   *args]
        env = {**os.environ, "HOME": str(self.folder), "KUBECACHEDIR": str(self.folder / "c")}
        env.pop("KUBECONFIG", None)
        return subprocess.run(command, input=stdin, capture_output=True, text=True,
                              env=env, timeout=60, check=False)

    def record(self, item: Step, kubeconfig: Path | None = None) -> str:
        done = self.run(*item.args, stdin=item.stdin, kubeconfig=kubeconfig)
        out = done.stdout
        if item.post is not None and done.returncode == 0:
            out = item.post(out)
        shown = " ".join(item.args)
        self.transcript.append(f"$ kubectl {shown}\n[exit {done.returncode}]\n{out}"
                               f"{done.stderr}".rstrip("\n"))
        return done.stdout

    def until_ok(self, *args: str, timeout: float = 30) -> None:
        """Run a command (not recorded) until it succeeds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while self.run(*args).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)

    def steps(self, steps: Sequence[Step], kubeconfig: Path | None = None) -> None:
        for item in steps:
            self.record(item, kubeconfig)

    def as_token(self, token: str, name: str = "sa") -> Path:
        """A kubeconfig of this server whose user is ``token``'s (a ServiceAccount)."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
        config["users"] = [{"name": "sa", "user": {"token": token}}]
        context["context"]["user"] = "sa"
        config["contexts"] = [context]
        path = self.folder / f"{name}-kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path


# -- the workflows --------------------------------------------------------------------------


def _deployment(k: Kubectl, version: str) -> None:
    k.steps([
        step("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=80"),
        step("get", "deployment", "web", "-o", "yaml", post=without_status),
        step("create", "deployment", "web", "--image=nginx:1.25"),
        step("create", "deployment", "dry", "--image=nginx", "--dry-run=server", "-o",
             "yaml"),
        step("create", "deployment", "multi", "--image=nginx", "--image=busybox"),
        step("get", "deployment", "multi", "-o", "jsonpath={.spec.template.spec.containers}"),
        step("create", "deployment", "Bad_Name", "--image=nginx"),
    ])


def _job(k: Kubectl, version: str) -> None:
    k.steps([
        step("create", "job", "once", "--image=busybox", "--", "echo", "hi"),
        step("get", "job", "once", "-o", "yaml", post=without_status),
        step("create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *"),
        step("get", "cronjob", "cj", "-o", "yaml", post=without_status),
        step("create", "job", "manual", "--from=cronjob/cj"),
        step("get", "job", "manual", "-o", "yaml", post=without_status),
        step("create", "job", "again", "--from=cronjob/missing"),
        step("create", "job", "bad", "--image=busybox", "--from=cronjob/cj"),
    ])


def _any_node_port(text: str) -> str:
    """A node port the server picked (each picks its own at random)."""
    text = re.sub(r"nodePort: \d+", "nodePort: PORT", text)
    return re.sub(r"\b443:\d+/TCP", "443:PORT/TCP", text)  # the LoadBalancer's, in a table


def _service(k: Kubectl, version: str) -> None:
    port = _node_port(version)
    k.steps([
        step("create", "service", "clusterip", "cip", "--tcp=80:8080", "--tcp=443:8443"),
        step("create", "service", "clusterip", "headless", "--clusterip=None"),
        step("create", "service", "nodeport", "np", "--tcp=80:8080", f"--node-port={port}"),
        step("create", "service", "nodeport", "np2", "--tcp=81:8081", f"--node-port={port}"),
        step("create", "service", "loadbalancer", "lb", "--tcp=443:8443"),
        step("create", "service", "externalname", "ext", "--external-name=db.example.com"),
        step("create", "service", "clusterip", "cip", "--tcp=80:8080"),
        step("create", "service", "clusterip", "fixed", "--clusterip=10.0.0.1",
             "--tcp=80"),
        step("get", "service", "lb", "ext", "-o", "yaml", post=_any_node_port),
        step("get", "service", "cip", "-o", "yaml"),
        step("get", "service", "np", "-o", "yaml"),
        step("get", "services", "-o", "wide", post=_any_node_port),
    ])


def _rbac(k: Kubectl, version: str) -> None:
    ns = k.endpoint.namespace
    k.steps([
        step("create", "role", "reader", "--verb=get,list,watch",
             "--resource=pods,deployments.apps", "--resource-name=one"),
        step("get", "role", "reader", "-o", "yaml"),
        step("create", "role", "wrong", "--verb=fly", "--resource=pods"),
        step("create", "role", "nowhere", "--verb=get", "--resource=nonesuch"),
        step("create", "role", "scaler", "--verb=get,update,patch",
             "--resource=deployments/scale,statefulsets.apps/scale"),
        step("get", "role", "scaler", "-o", "jsonpath={.rules}"),
        step("create", "role", "reader", "--verb=get", "--resource=pods"),
        step("create", "clusterrole", f"cr-{ns}", "--verb=get", "--resource=nodes",
             "--non-resource-url=/healthz"),
        step("create", "clusterrole", f"agg-{ns}", "--aggregation-rule=team=a"),
        step("get", "clusterrole", f"cr-{ns}", f"agg-{ns}", "-o", "yaml"),
        step("create", "rolebinding", "rb", "--role=reader", f"--serviceaccount={ns}:default",
             "--user=alice", "--group=devs"),
        step("create", "rolebinding", "crb-in-ns", f"--clusterrole=cr-{ns}", "--user=bob"),
        step("get", "rolebinding", "-o", "wide"),
        step("create", "clusterrolebinding", f"crb-{ns}", f"--clusterrole=cr-{ns}",
             "--user=bob"),
        step("get", "clusterrolebinding", f"crb-{ns}", "-o", "wide"),
        step("delete", "clusterrolebinding", f"crb-{ns}"),
        step("delete", "clusterrole", f"cr-{ns}", f"agg-{ns}"),
    ])


def _secret(k: Kubectl, version: str) -> None:
    issued = CertificateAuthority.new().issue_server()
    issued.write(k.folder / "tls.crt", k.folder / "tls.key")
    other = CertificateAuthority.new().issue_server()
    (k.folder / "other.key").write_bytes(other.key_pem)
    (k.folder / "data.txt").write_text("from a file\n")
    k.steps([
        step("create", "secret", "generic", "plain", "--from-literal=user=admin",
             f"--from-file=note={k.folder / 'data.txt'}", "--type=Opaque"),
        step("get", "secret", "plain", "-o", "yaml"),
        step("create", "secret", "generic", "plain", "--from-literal=a=b"),
        step("create", "secret", "docker-registry", "registry",
             "--docker-server=registry.example.com", "--docker-username=u",
             "--docker-password=p", "--docker-email=u@example.com"),
        step("get", "secret", "registry", "-o", "yaml"),
        step("create", "secret", "tls", "served", f"--cert={k.folder / 'tls.crt'}",
             f"--key={k.folder / 'tls.key'}"),
        step("get", "secret", "served", "-o",
             "go-template={{.type}}{{range $k, $v := .data}} {{$k}}{{end}}"),
        step("create", "secret", "tls", "mismatched", f"--cert={k.folder / 'tls.crt'}",
             f"--key={k.folder / 'other.key'}"),
        step("create", "secret", "generic", "bad", "--from-literal=no_t=ok",
             "--from-literal=bad key=x"),
        step("get", "secrets"),
    ])


def _token(k: Kubectl, version: str) -> None:
    k.steps([
        step("create", "serviceaccount", "bot"),
        step("create", "token", "bot", "--duration=2h", "--audience=vault",
             "-o", "jsonpath={.status.expirationTimestamp} {.spec}"),
        step("create", "token", "bot"),
        step("create", "token", "bot", "-o", "yaml"),
        step("create", "token", "nope"),
        step("create", "token", "bot", "--duration=1m"),
        step("create", "secret", "generic", "anchor", "--from-literal=a=b"),
        step("create", "token", "bot", "--bound-object-kind=Secret",
             "--bound-object-name=anchor", "-o", "jsonpath={.spec}"),
        step("create", "token", "bot", "--bound-object-kind=Secret",
             "--bound-object-name=missing"),
        step("create", "token", "bot", "--bound-object-kind=Pod",
             "--bound-object-name=missing"),
        step("create", "token", "bot", "--bound-object-kind=Secret",
             "--bound-object-name=anchor", "--bound-object-uid=wrong"),
        step("create", "token", "bot", "--bound-object-kind=Node",
             "--bound-object-name=missing"),
        step("create", "token", "bot", "--bound-object-kind=ConfigMap",
             "--bound-object-name=x"),
    ])


STATEFUL = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, labels: {scaled: "yes"}}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, labels: {scaled: "yes"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: c, image: nginx}]}
"""
SCALE = "jsonpath={.spec} {.status.selector}"


def _scale(k: Kubectl, version: str) -> None:
    k.steps([
        step("create", "deployment", "web", "--image=nginx", "--replicas=2"),
        step("scale", "deployment", "web", "--replicas=4"),
        step("scale", "deployment", "web", "--replicas=5", "--current-replicas=3"),
        step("scale", "deployment", "web", "--replicas=5", "--current-replicas=4"),
        step("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"),
        step("get", "deployment", "web", "--subresource=scale", "-o", SCALE),
        step("scale", "deployment", "nope", "--replicas=1"),
        step("scale", "deployment", "web", "--replicas=-1"),
        step("create", "-f", "-", stdin=STATEFUL),
        step("scale", "statefulset", "db", "--replicas=3"),
        step("scale", "replicaset", "rs", "--replicas=0", "--current-replicas=1"),
        step("scale", "statefulset,replicaset", "-l", "scaled=yes", "--replicas=2"),
        step("get", "statefulset/db", "replicaset/rs", "-o",
             "jsonpath={range .items[*]}{.kind} {.spec.replicas};{end}"),
        step("get", "statefulset", "db", "--subresource=scale", "-o", SCALE),
        step("create", "configmap", "settings", "--from-literal=a=b"),
        step("scale", "configmap", "settings", "--replicas=1"),
    ])


def _explain(k: Kubectl, version: str) -> None:
    k.steps([
        step("explain", "deployment.spec.replicas"),
        step("explain", "pods.spec.containers.ports", "--recursive"),
        step("explain", "services.spec.type"),
        step("explain", "jobs.spec.nope"),
        step("explain", "cronjobs", "--api-version=batch/v1"),
        step("explain", "rolebindings.subjects"),
        step("explain", "nonesuch"),
    ])


GADGETS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.{group}
spec:
  group: {group}
  names: {{kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: A gadget of the explain workflow.
        properties:
          spec:
            type: object
            description: What the gadget should be.
            required: [size]
            properties:
              size: {{type: integer, minimum: 0, maximum: 10, description: "How big it is."}}
              color:
                type: string
                enum: [red, "yes", ""]
                default: red
                description: "Its colour: red, yes or nothing."
              note: {{type: string, nullable: true, description: "A note, or null."}}
              labels: {{type: object, additionalProperties: {{type: string}}}}
              parts:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {{type: string, description: "The part's name."}}
                    count: {{type: integer, format: int32}}
              extra: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
              port:
                x-kubernetes-int-or-string: true
                anyOf: [{{type: integer}}, {{type: string}}]
                description: A port number or name.
"""


def _explain_openapiv2(k: Kubectl, version: str) -> None:
    """``explain`` from the ``/openapi/v2`` protobuf (kubectl 1.27 reads nothing else for
    its validation and patch metadata either), of built-ins and of a custom resource."""
    group = f"{k.endpoint.namespace}.example.com"
    v2 = "--output=plaintext-openapiv2"
    k.steps([
        step("explain", "deployment.spec", v2),
        step("explain", "pods.spec.containers", v2),
        step("explain", "services.spec.ports.protocol", v2),
        step("apply", "-f", "-", stdin=GADGETS.format(group=group)),
        step("wait", "--for=condition=Established", f"crd/gadgets.{group}"),
    ])
    api = f"--api-version={group}/v1"
    try:
        # the real server publishes a new CRD's schema a moment after it is established
        k.until_ok("explain", "gadgets", api, v2)
        k.steps([
            step("explain", "gadgets", api, v2),
            step("explain", "gadgets.spec", api, v2),
            step("explain", "gadgets.spec.parts", api, v2),
            step("explain", "gadgets.spec", "--recursive", api, v2),
            step("explain", "gadgets.spec.nope", api, v2),
        ])
    finally:
        k.run("delete", "crd", f"gadgets.{group}", "--wait=false")


def _auth_admin(k: Kubectl, version: str) -> None:
    sa = f"system:serviceaccount:{k.endpoint.namespace}:bot"
    k.steps([
        step("auth", "can-i", "create", "deployments"),
        step("auth", "can-i", "*", "*"),
        step("auth", "can-i", "get", "pods", "--subresource=log"),
        step("auth", "can-i", "get", "/healthz"),
        step("auth", "can-i", "--list"),
        step("auth", "can-i", "list", "secrets", "--all-namespaces"),
        step("auth", "can-i", "update", "deployments.apps", "--subresource=scale"),
        step("auth", "can-i", "fly", "pods"),
        step("auth", "can-i", "get", "nonesuch"),
        step("create", "serviceaccount", "bot"),
        step("create", "role", "pod-reader", "--verb=get,list", "--resource=pods"),
        step("create", "rolebinding", "bot-reads", "--role=pod-reader",
             f"--serviceaccount={k.endpoint.namespace}:bot"),
        step("auth", "can-i", "list", "pods", f"--as={sa}"),
        step("auth", "can-i", "delete", "pods", f"--as={sa}"),
        step("auth", "can-i", "list", "pods", "--as=alice"),
        step("auth", "can-i", "list", "pods", "--as=alice", "--as-group=system:masters"),
        step("auth", "can-i", "--list", f"--as={sa}"),
        step("get", "pods", f"--as={sa}"),
        step("get", "deployments", f"--as={sa}"),
    ])


def _auth_service_account(k: Kubectl, version: str) -> None:
    ns = k.endpoint.namespace
    k.steps([
        step("create", "serviceaccount", "bot"),
        step("create", "role", "pod-reader", "--verb=get,list", "--resource=pods"),
        step("create", "rolebinding", "bot-reads", "--role=pod-reader",
             f"--serviceaccount={ns}:bot"),
    ])
    token = k.record(step("create", "token", "bot")).strip()
    as_bot = k.as_token(token)
    k.steps([
        step("auth", "whoami", "-o", "yaml"),
        step("auth", "can-i", "list", "pods"),
        step("auth", "can-i", "delete", "pods"),
        step("auth", "can-i", "create", "deployments"),
        step("auth", "can-i", "get", "/healthz"),
        step("auth", "can-i", "--list"),
        step("get", "pods"),
        step("get", "deployments"),
        step("get", "pods", "-n", "default"),
        step("create", "configmap", "nope", "--from-literal=a=b"),
        step("create", "token", "bot"),
        step("auth", "can-i", "impersonate", "users"),
        step("get", "pods", "--as=alice"),
    ], kubeconfig=as_bot)
    # a token bound to a pod running as the account: the user's extra names the pod
    k.record(step("run", "runs-as-bot", "--image=nginx",
                  '--overrides={"spec": {"serviceAccountName": "bot"}}'))
    token = k.record(step("create", "token", "bot", "--bound-object-kind=Pod",
                          "--bound-object-name=runs-as-bot")).strip()
    k.steps([step("auth", "whoami", "-o", "yaml")], kubeconfig=k.as_token(token, "pod"))


def _get_wide(k: Kubectl, version: str) -> None:
    k.steps([
        step("run", "solo", "--image=nginx:1.25", "--labels=app=solo", "--port=80"),
        step("create", "deployment", "idle", "--image=nginx:1.25", "--replicas=0"),
        step("expose", "pod", "solo", "--port=80", "--name=solo"),
        step("create", "service", "clusterip", "plain", "--tcp=8080"),
        step("get", "pods", "-o", "wide"),
        step("get", "deployments", "-o", "wide"),
        step("get", "services", "-o", "wide"),
        step("get", "pods", "--show-labels"),
        step("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *"),
        step("create", "configmap", "settings", "--from-literal=a=b"),
        step("get", "cronjob/nightly", "configmap/settings", "-o", "wide"),
        step("create", "-f", "-", stdin=STATEFUL.replace("replicas: 1", "replicas: 0")),
        step("get", "statefulset/db", "replicaset/rs", "-o", "wide"),
        step("get", "pod", "solo", "-o", "custom-columns=NAME:.metadata.name,"
             "PHASE:.status.phase,QOS:.status.qosClass"),
    ])


WORKFLOWS: dict[str, Callable[[Kubectl, str], Any]] = {
    "create-deployment": _deployment,
    "create-job": _job,
    "create-service": _service,
    "create-rbac": _rbac,
    "create-secret": _secret,
    "create-token": _token,
    "scale": _scale,
    "explain": _explain,
    "explain-openapiv2": _explain_openapiv2,
    "auth-admin": _auth_admin,
    "auth-service-account": _auth_service_account,
    "get-wide": _get_wide,
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("workflow", list(WORKFLOWS))
def test_kubectl_workflow(workflow: str, version: str, kube_apiserver: KubeEndpoint,
                          tmp_path: Path) -> None:
    binary = _binary(version)
    if binary is None:
        pytest.skip(f"kubectl {version} not found (kubectl.{version} next to the binary "
                    "`kubectl` on PATH links to)")
    kubectl = Kubectl(binary, kube_apiserver, tmp_path)
    WORKFLOWS[workflow](kubectl, version)
    got = normalise("\n".join(kubectl.transcript), kube_apiserver.namespace, tmp_path) + "\n"
    golden = GOLDEN / f"{workflow}-{version}.txt"
    if RECORD:
        if not kube_apiserver.is_real:
            pytest.skip("KUBEPLAN_RECORD_KUBECTL records from the real server only")
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(got)
        return
    if not golden.exists():
        pytest.fail(f"no transcript {golden.name}: record it from the real server with "
                    "KUBEPLAN_RECORD_KUBECTL=1 pytest --kube-apiserver=real")
    assert got == golden.read_text(), (
        f"{workflow} with kubectl {version} on the {kube_apiserver.kind} server differs "
        f"from the real server's transcript {golden.name}")
