"""Real kubectl against the fake over HTTP (the default kubectl, 1.27 and 1.33).

Each test gets its own server, kubeconfig and discovery cache folder in tmp_path, so
nothing a kubectl caches leaks from one test into another.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import kubectl_binaries

from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig

pytestmark = pytest.mark.kubectl

BINARIES = kubectl_binaries()
VERSIONS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            path is None,
            reason=f"kubectl {name} not found (looked on PATH and next to the "
            "binary `kubectl` links to, for kubectl.<version>)",
        ),
    )
    for name, path in BINARIES.items()
]

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
"""

WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: %d, color: %s}
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: default, labels: {app: demo}}
data:
%s
"""


class Kubectl:
    """Runs one kubectl binary against one server, with caches inside tmp_path."""

    def __init__(self, binary: str, kubeconfig: Path, folder: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.folder = folder
        self.env = {
            **os.environ,
            "KUBECACHEDIR": str(folder / "cache"),
            "HOME": str(folder),
            "KUBECONFIG": str(kubeconfig),
        }

    def args(self, *args: str) -> list[str]:
        return [
            self.binary,
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.folder / "cache"),
            *args,
        ]

    async def __call__(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 30
    ) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.args(*args),
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {proc.returncode}:\n"
                f"{out.decode()}\n{err.decode()}"
            )
        return out.decode()

    async def json(self, *args: str) -> dict:
        return json.loads(await self(*args, "-o", "json"))

    async def create_configmap(self, name: str, namespace: str = "default") -> None:
        # `create -f`: a plain JSON body (`create configmap` is protobuf from kubectl 1.31)
        await self(
            "create",
            "-f",
            "-",
            stdin=f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: {name}\n  namespace: {namespace}\ndata: {{k: '1'}}\n",
        )


@pytest.fixture
async def kubectl(
    request: pytest.FixtureRequest, http: FakeApiHttpServer, tmp_path: Path
) -> AsyncIterator[Kubectl]:
    binary = BINARIES[request.param]
    assert binary is not None
    config = write_kubeconfig(tmp_path / "kubeconfig", http.url)
    yield Kubectl(binary, config, tmp_path)


def versions(func):
    return pytest.mark.parametrize("kubectl", VERSIONS, indirect=True)(func)


@versions
async def test_version_and_api_resources(kubectl: Kubectl) -> None:
    info = await kubectl.json("version")
    assert info["serverVersion"]["major"] == "1"
    resources = await kubectl("api-resources")
    lines = {line.split()[0]: line for line in resources.splitlines()[1:]}
    assert {"configmaps", "deployments", "customresourcedefinitions", "namespaces"} <= set(lines)
    assert "cm" in lines["configmaps"]


@versions
async def test_explain_of_built_ins_reads_upstreams_schemas(kubectl: Kubectl) -> None:
    explained = await kubectl("explain", "deployment.spec")  # from /openapi/v3/apis/apps/v1
    assert "FIELD: spec <DeploymentSpec>" in explained
    assert "minReadySeconds\t<integer>" in explained and "template\t<PodTemplateSpec>" in explained
    deep = await kubectl("explain", "pods.spec.containers.ports", "--recursive")
    assert "containerPort\t<integer>" in deep and "protocol\t<string>" in deep
    services = await kubectl("explain", "svc.spec.ports.targetPort")
    assert "<IntOrString>" in services
    # a field the schema does not have is refused by kubectl itself, as on a real server
    with pytest.raises(AssertionError, match='field "nope" does not exist'):
        await kubectl("explain", "deployment.spec.nope")


async def _apply_crd(kubectl: Kubectl) -> None:
    assert "created" in await kubectl("apply", "-f", "-", stdin=CRD)
    await kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")


@versions
async def test_apply_crd_then_custom_resource_create_and_change(kubectl: Kubectl) -> None:
    await _apply_crd(kubectl)
    out = await kubectl("apply", "-f", "-", stdin=WIDGET % (1, "red"))
    assert "widget.example.com/w1 created" in out
    out = await kubectl("apply", "-f", "-", stdin=WIDGET % (2, "red"))
    assert "widget.example.com/w1 configured" in out
    widget = await kubectl.json("get", "widget", "w1")
    assert widget["spec"] == {"size": 2, "color": "red"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in widget["metadata"]["annotations"]
    out = await kubectl("apply", "-f", "-", stdin=WIDGET % (2, "red"))
    assert "unchanged" in out
    listed = await kubectl("get", "wd")  # short name, client-side table printing
    assert listed.split()[:2] == ["NAME", "AGE"] and "w1" in listed
    explained = await kubectl("explain", "widgets.spec")  # from /openapi/v3
    assert "KIND:       Widget" in explained and "size\t<integer>" in explained


@versions
async def test_get_watch_sees_a_change(kubectl: Kubectl, http: FakeApiHttpServer) -> None:
    await kubectl.create_configmap("watched")
    proc = await asyncio.create_subprocess_exec(
        *kubectl.args("get", "configmap", "watched", "-w", "-o", "json"),
        env=kubectl.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        decoder = json.JSONDecoder()
        buffer = ""

        async def next_object(timeout: float) -> dict:
            nonlocal buffer
            while True:
                stripped = buffer.lstrip()
                if stripped:
                    try:
                        obj, end = decoder.raw_decode(stripped)
                        buffer = stripped[end:]
                        return obj
                    except json.JSONDecodeError:
                        pass
                chunk = await asyncio.wait_for(proc.stdout.read(4096), timeout)  # type: ignore[union-attr]
                assert chunk, "kubectl get -w ended early"
                buffer += chunk.decode()

        # kubectl starts slowly on a loaded machine (two test runs on two cores)
        first = await next_object(60)
        assert first["data"] == {"k": "1"}
        # kubectl prints the object it got, then watches from resourceVersion 0 and hides
        # the watch's first event (the synthetic ADDED of the current state, as a real
        # server sends it): a change made before its watch began is that hidden event.
        # So change again until one shows (the real server behaves the same).
        patched: list[str] = []
        second: dict | None = None
        async with aiohttp.ClientSession() as session:
            for value in range(2, 8):
                async with session.patch(
                    http.url + "/api/v1/namespaces/default/configmaps/watched",
                    data=json.dumps({"data": {"k": str(value)}}).encode(),
                    headers={"Content-Type": "application/merge-patch+json"},
                ) as resp:
                    assert resp.status == 200
                patched.append(str(value))
                try:
                    second = await next_object(10)
                    break
                except TimeoutError:
                    continue
        assert second is not None, f"kubectl get -w printed none of the changes {patched}"
        assert second["data"]["k"] in patched
    finally:
        proc.kill()
        await proc.wait()


@versions
async def test_apply_configmap_twice_uses_strategic_merge(
    kubectl: Kubectl, http: FakeApiHttpServer
) -> None:
    await kubectl("apply", "-f", "-", stdin=CONFIGMAP % "  a: '1'\n  b: '1'")
    cm = await kubectl.json("get", "cm", "cm1")
    assert cm["data"] == {"a": "1", "b": "1"}
    out = await kubectl("apply", "-f", "-", stdin=CONFIGMAP % "  a: '2'\n  c: '3'")
    assert "configured" in out
    cm = await kubectl.json("get", "cm", "cm1")
    assert cm["data"] == {"a": "2", "c": "3"}  # three-way merge removed b
    assert (await kubectl("get", "cm")).split()[:3] == ["NAME", "DATA", "AGE"]  # a Table
    assert cm["metadata"]["labels"] == {"app": "demo"}
    patches = [
        r for r in http.server.seen if r.method == "PATCH" and r.path.endswith("/configmaps/cm1")
    ]
    assert patches and patches[-1].content_type == "application/strategic-merge-patch+json"


@versions
async def test_apply_server_side(kubectl: Kubectl) -> None:
    out = await kubectl("apply", "--server-side", "-f", "-", stdin=CONFIGMAP % "  a: '1'")
    assert "serverside-applied" in out
    out = await kubectl("apply", "--server-side", "-f", "-", stdin=CONFIGMAP % "  a: '2'")
    cm = await kubectl.json("get", "cm", "cm1", "--show-managed-fields")
    assert cm["data"] == {"a": "2"}
    assert "kubectl" in [m["manager"] for m in cm["metadata"]["managedFields"]]


@versions
async def test_delete_returns_once_gone(kubectl: Kubectl) -> None:
    await kubectl.create_configmap("doomed")
    out = await kubectl("delete", "configmap", "doomed", "--timeout=15s")
    assert 'configmap "doomed" deleted' in out
    missing = await kubectl("get", "configmap", "doomed", check=False)
    assert missing == ""  # "NotFound" goes to stderr
    with pytest.raises(AssertionError, match=r"NotFound|not found"):
        await kubectl("get", "configmap", "doomed")


@versions
async def test_delete_namespace_with_contents_then_wait(kubectl: Kubectl) -> None:
    await kubectl(
        "apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"
    )
    await kubectl.create_configmap("inside", namespace="team")
    await _apply_crd(kubectl)
    widget = WIDGET.replace("namespace: default", "namespace: team") % (1, "blue")
    await kubectl("apply", "-f", "-", stdin=widget)
    await kubectl("delete", "namespace", "team", "--wait=false")
    await kubectl("wait", "--for=delete", "namespace/team", "--timeout=20s")
    with pytest.raises(AssertionError, match=r"NotFound|not found"):
        await kubectl("get", "namespace", "team")


@versions
async def test_create_generators(kubectl: Kubectl) -> None:
    """kubectl >= 1.31 sends these typed-client bodies as protobuf."""
    await kubectl("create", "namespace", "gen")
    await kubectl("create", "configmap", "c1", "-n", "gen", "--from-literal=a=1",
                  "--from-literal=empty=")
    await kubectl("create", "secret", "generic", "s1", "-n", "gen", "--from-literal=p=pw")
    await kubectl("create", "serviceaccount", "sa1", "-n", "gen")
    assert (await kubectl.json("get", "namespace", "gen"))["metadata"]["name"] == "gen"
    assert (await kubectl.json("get", "cm", "c1", "-n", "gen"))["data"] == {"a": "1",
                                                                           "empty": ""}
    secret = await kubectl.json("get", "secret", "s1", "-n", "gen")
    assert secret["data"] == {"p": "cHc="} and secret["type"] == "Opaque"
    await kubectl.json("get", "serviceaccount", "sa1", "-n", "gen")


@versions
async def test_create_generators_of_every_kind(kubectl: Kubectl) -> None:
    """kubectl >= 1.32 sends these as protobuf too; the fields checked are what the real
    server answers to the same commands (compared with kube-apiserver 1.36)."""
    deployment = await kubectl.json("create", "deployment", "d", "--image=nginx",
                                    "--replicas=2", "--port=80")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx" and container["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%",
                                                               "maxUnavailable": "25%"}
    job = json.loads(await kubectl("create", "job", "j", "--image=busybox", "-o", "json",
                                   "--", "echo", "hi"))
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    cron = await kubectl.json("create", "cronjob", "cj", "--image=busybox",
                              "--schedule=*/5 * * * *")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    service = await kubectl.json("create", "service", "clusterip", "s", "--tcp=80:8080")
    assert service["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP",
                                         "targetPort": 8080}]
    role = await kubectl.json("create", "role", "r", "--verb=get,list",
                              "--resource=pods,deployments.apps")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]
    binding = await kubectl.json("create", "rolebinding", "rb", "--role=r", "--user=u")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "r"}
    pdb = await kubectl.json("create", "poddisruptionbudget", "p", "--selector=app=x",
                             "--max-unavailable=50%")
    assert pdb["spec"]["maxUnavailable"] == "50%"
    ingress = await kubectl.json("create", "ingress", "i", "--class=c",
                                 "--rule=foo.com/bar=svc1:8080,tls=my-cert")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "svc1", "port": {"number": 8080}}}
    assert ingress["spec"]["tls"] == [{"hosts": ["foo.com"], "secretName": "my-cert"}]
    secret = await kubectl.json("create", "secret", "docker-registry", "reg",
                                "--docker-server=s", "--docker-username=u",
                                "--docker-password=p")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert set(secret["data"]) == {".dockerconfigjson"}


@pytest.mark.skipif(BINARIES["default"] is None, reason="kubectl not on PATH")
async def test_kubectl_sends_no_token_over_plain_http(store: object, tmp_path: Path) -> None:
    """Pins a client-side policy the docs of `--token` rely on: client-go puts a
    kubeconfig token only on TLS connections (kubernetes/kubectl#744), so kubectl cannot
    use a token-protected fake over http; Python clients and curl can."""
    async with FakeApiHttpServer(store, token="tok3n") as secured:
        kubectl = Kubectl(BINARIES["default"],  # type: ignore[arg-type]
                          write_kubeconfig(tmp_path / "kubeconfig", secured.url, token="tok3n"),
                          tmp_path)
        with pytest.raises(AssertionError, match=r"provide credentials|Unauthorized"):
            await kubectl("get", "configmaps")
