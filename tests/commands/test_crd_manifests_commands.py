"""`kubeplan crd` and `kubeplan manifests`: output, errors, exit codes, and that the output
is accepted by the fake API server (over HTTP and through kubectl)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeplan.cli import main
from kubeplan.core.k8s import builtin_type
from kubeplan.core.types import K8sType

HERE = Path(__file__).parent
SAMPLE = str(HERE / "sample_operator.py")
TARGET = f"{SAMPLE}:operator"
Widget = K8sType("example.com/v1", "Widget", "widgets")
EXAMPLES = sorted((HERE.parent.parent / "examples").glob("*/*_operator.py"))

try:  # the fake API server's store; the apply tests wait for it
    from kubeplan.testkit.apiserver import FakeApiServer  # noqa: F401
    from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer

    HAVE_FAKE = True
except ImportError:  # pragma: no cover - only while the fake is being written
    HAVE_FAKE = False

needs_fake = pytest.mark.skipif(not HAVE_FAKE, reason="kubeplan.testkit.apiserver.FakeApiServer "
                                "is not importable yet")
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------
# kubeplan crd


def test_crd_prints_the_derived_crd_as_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "crd", TARGET)
    assert (code, err) == (0, "")
    doc = yaml.safe_load(out)
    assert doc["metadata"]["name"] == "widgets.example.com"
    root = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = root["properties"]["spec"]
    assert spec["required"] == ["image"]
    assert spec["properties"]["tier"]["enum"] == ["free", "pro"]
    assert spec["properties"]["minReplicas"]["nullable"] is True
    assert spec["properties"]["ports"]["items"]["properties"]["protocol"]["default"] == "TCP"
    assert root["properties"]["status"]["properties"]["readyReplicas"]["default"] == 0
    assert root["description"] == "A Widget runs an image behind a Service."


def test_crd_as_json_equals_the_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    _, as_yaml, _ = run(capsys, "crd", TARGET)
    code, as_json, _ = run(capsys, "crd", TARGET, "-o", "json")
    assert code == 0
    assert json.loads(as_json) == yaml.safe_load(as_yaml)


def test_crd_loads_a_dotted_module_from_sys_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    code, out, _ = run(capsys, "crd", "sample_operator:scoped")
    assert code == 0
    doc = yaml.safe_load(out)
    status = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True  # scoped has no status class


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "is not MODULE:ATTR"),
        ("surely_missing_module_xyz:operator", "module 'surely_missing_module_xyz' was not found"),
        ("missing/file.py:operator", "file 'missing/file.py' does not exist"),
        (f"{SAMPLE}:nothing", "has no attribute 'nothing'; its OperatorDefinitions are: "
                              "operator, scoped"),
        (f"{SAMPLE}:not_an_operator", "is a dict, not an OperatorDefinition"),
    ],
)
@pytest.mark.parametrize("command", ["crd", "manifests"])
def test_bad_targets_exit_1_saying_what_to_fix(
    capsys: pytest.CaptureFixture[str], command: str, target: str, message: str
) -> None:
    code, out, err = run(capsys, command, target)
    assert code == 1
    assert out == ""
    assert err.startswith(f"kubeplan {command}: ")
    assert message in err


def test_an_import_error_inside_the_module_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    code, _, err = run(capsys, "crd", f"{broken}:operator")
    assert code == 1
    assert "raised RuntimeError: boom" in err


def test_an_unsupported_annotation_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = tmp_path / "bad_types.py"
    module.write_text(
        "import attrs\n"
        "from kubeplan.core.config import OperatorConfig\n"
        "from kubeplan.core.definition import OperatorDefinition\n"
        "from kubeplan.core.types import K8sType\n"
        "@attrs.define\n"
        "class Spec:\n"
        "    size: complex\n"
        "operator = OperatorDefinition(\n"
        "    config=OperatorConfig('bad', K8sType('example.com/v1', 'Bad', 'bads')),\n"
        "    handler=print, spec_class=Spec)\n"
    )
    code, _, err = run(capsys, "crd", f"{module}:operator")
    assert code == 1
    assert "Spec.size: unsupported annotation" in err


@pytest.mark.parametrize(
    "argv",
    [["crd"], ["crd", TARGET, "-o", "xml"], ["manifests", TARGET, "--replicas", "0"]],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["crd", "manifests"])
def test_help_explains_the_command_and_its_exit_codes(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "MODULE:ATTR" in out
    assert "Exit codes: 0" in out
    assert "Examples:" in out


# --------------------------------------------------------------------------------------
# kubeplan manifests


def test_manifests_prints_a_multi_document_stream(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "manifests", TARGET, "--image", "reg.example/w:1", "--namespace", "ops",
    )
    assert (code, err) == (0, "")
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == [
        "CustomResourceDefinition", "Namespace", "ServiceAccount",
        "ClusterRole", "ClusterRoleBinding", "Deployment",
    ]
    deployment = docs[-1]
    assert deployment["metadata"]["namespace"] == "ops"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "reg.example/w:1"
    assert container["args"][0] == TARGET


def test_manifests_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "manifests", TARGET, "--replicas", "2", "--no-namespace",
                       "-o", "json")
    assert code == 0
    body = json.loads(out)
    assert body["kind"] == "List"
    kinds = [d["kind"] for d in body["items"]]
    assert "Namespace" not in kinds
    assert kinds.count("Role") == 1  # the leader-election Lease role
    assert body["items"][-1]["spec"]["replicas"] == 2


def test_manifests_of_a_namespace_restricted_operator_use_roles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "manifests", f"{SAMPLE}:scoped", "--namespace", "widgets")
    assert code == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert "ClusterRole" not in kinds and "Role" in kinds and "RoleBinding" in kinds


# --------------------------------------------------------------------------------------
# the fake API server accepts the output


@pytest.fixture
def fake(tmp_path: Path) -> Any:
    with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as server:
        yield server


def _post(base_url: str, obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CustomResourceDefinition":
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    elif obj["kind"] == "Widget":
        path = Widget.path(obj["metadata"]["namespace"])
    else:
        k8s_type = builtin_type(obj["apiVersion"], obj["kind"])
        assert k8s_type is not None, obj["kind"]
        path = k8s_type.path(obj["metadata"].get("namespace"))
    request = urllib.request.Request(
        base_url + path, data=json.dumps(obj).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"POST {path} -> {exc.code}: {exc.read().decode()}") from exc


def _wait_for_crd_then_post(base_url: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A CRD's resources appear once it is Established (asynchronously, like the real
    server): retry the first create for a moment, as envtest does."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return _post(base_url, obj)
        except AssertionError as exc:
            if "-> 404" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@needs_fake
def test_manifests_apply_to_the_fake_api_server(
    capsys: pytest.CaptureFixture[str], fake: Any
) -> None:
    _, out, _ = run(capsys, "manifests", TARGET, "--replicas", "2")
    for doc in yaml.safe_load_all(out):
        created = _post(fake.url, doc)
        assert created["metadata"]["uid"]


@needs_fake
def test_the_crd_is_accepted_and_its_schema_applies_to_widgets(
    capsys: pytest.CaptureFixture[str], fake: Any
) -> None:
    _, out, _ = run(capsys, "crd", TARGET, "-o", "json")
    crd = json.loads(out)
    _post(fake.url, crd)
    widget = {
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"image": "nginx", "ports": [{"number": 80}]},
    }
    created = _wait_for_crd_then_post(fake.url, widget)
    spec = created["spec"]
    assert spec["replicas"] == 1 and spec["tier"] == "free"  # schema defaults
    assert spec["ports"] == [{"number": 80, "protocol": "TCP"}]
    bad = {**widget, "metadata": {"name": "w2", "namespace": "default"},
           "spec": {"image": "nginx", "tier": "gold"}}
    with pytest.raises(AssertionError, match=r"-> 422: .*spec\.tier"):
        _post(fake.url, bad)


@needs_fake
@needs_kubectl
@pytest.mark.kubectl
@pytest.mark.parametrize("target", [TARGET, f"{SAMPLE}:scoped"])
def test_kubectl_server_dry_run_accepts_the_crd(
    capsys: pytest.CaptureFixture[str], fake: Any, tmp_path: Path, target: str
) -> None:
    _, out, _ = run(capsys, "crd", target)
    path = tmp_path / "crd.yaml"
    path.write_text(out)
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(fake.kubeconfig_path), "apply", "--dry-run=server",
         "-f", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "widgets.example.com created (server dry run)" in result.stdout


@needs_fake
@needs_kubectl
@pytest.mark.kubectl
def test_kubectl_applies_the_manifests(
    capsys: pytest.CaptureFixture[str], fake: Any, tmp_path: Path
) -> None:
    _, out, _ = run(capsys, "manifests", TARGET, "--replicas", "2", "--namespace", "ops")
    path = tmp_path / "manifests.yaml"
    path.write_text(out)
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(fake.kubeconfig_path), "apply", "-f", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    for line in (
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created",
        "namespace/ops created",
        "clusterrole.rbac.authorization.k8s.io/widgets created",
        "role.rbac.authorization.k8s.io/widgets-leader-election created",
        "deployment.apps/widgets created",
    ):
        assert line in result.stdout


@needs_fake
@needs_kubectl
@pytest.mark.kubectl
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_each_examples_crd_and_manifests_are_accepted(
    capsys: pytest.CaptureFixture[str], fake: Any, tmp_path: Path, example: Path
) -> None:
    target = f"{example}:operator"
    code, out, err = run(capsys, "crd", target)
    if not list(example.parent.glob("crd*.yaml")):  # a decorator of a built-in type
        assert code == 1 and "is a built-in type" in err, err
    else:
        assert code == 0, err
        path = tmp_path / "crd.yaml"
        path.write_text(out)
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", str(fake.kubeconfig_path), "apply", "--dry-run=server",
             "-f", str(path)],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert result.returncode == 0, result.stderr
    code, out, err = run(capsys, "manifests", target)
    assert code == 0, err
    for doc in yaml.safe_load_all(out):
        if doc["apiVersion"].startswith("cert-manager.io/"):
            continue  # a versioned example's certificate: cert-manager is not in the fake
        _post(fake.url, doc)


@needs_fake
def test_three_replicas_get_leader_election_and_lease_rbac(
    capsys: pytest.CaptureFixture[str], fake: Any
) -> None:
    _, out, _ = run(capsys, "manifests", TARGET, "--replicas", "3")
    docs = list(yaml.safe_load_all(out))
    for doc in docs:
        assert _post(fake.url, doc)["metadata"]["uid"]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 3
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBEPLAN_LEADER_ELECTION"]["value"] == "true"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    lease_rules = [rule for d in docs if d["kind"] == "Role" for rule in d.get("rules", ())
                   if "leases" in rule.get("resources", ())]
    assert lease_rules and {"get", "create", "update"} <= set(lease_rules[0]["verbs"])
