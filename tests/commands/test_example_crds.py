"""Every example's `kubeplan crd` output is accepted by the fake API server (and by
`kubectl apply --dry-run=server` against it), its sample parent validates, and
`kubeplan manifests` output applies cleanly. A decorator of a built-in type has no CRD:
`kubeplan crd` says so, and its manifests hold none."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kubeplan.cli import main
from kubeplan.commands._loading import load_definition

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "echo-server": "echoserver.yaml",
    "temp-namespace": "tempnamespace.yaml",
    "configmap-sync": "configmapsync.yaml",
    "member": "member.yaml",
    "ordered": "workspace.yaml",
    "rolling": "fleet.yaml",
    "versions": "greeting.yaml",
    "admission": "site.yaml",
    "external-http": "flagset.yaml",
    "external-s3": "reportindex.yaml",
}
#: examples whose parent is a built-in type (decorators): no CRD, a sample of that type
WITHOUT_CRD = {
    "decorator": "service.yaml",
}
#: examples of several operators in one process: (operator file, its CRD file, a sample)
GROUP_EXAMPLES = {
    "multicontroller": [
        ("secret_sync_operator.py", "crd-secret-sync.yaml", "secretsync.yaml"),
        ("service_account_sync_operator.py", "crd-service-account-sync.yaml",
         "serviceaccountsync.yaml"),
    ],
}
GROUP_OPERATORS = [(example, *parts) for example, operators in GROUP_EXAMPLES.items()
                   for parts in operators]


def operator_file(example: str) -> Path:
    """Each example's operator: ``<example>_operator.py``, dashes written as underscores
    (a name that shadows no module, unlike ``operator.py``)."""
    return ROOT / "examples" / example / f"{example.replace('-', '_')}_operator.py"


def output_of(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(list(argv)) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


async def _apply(objects: list[dict], target: str) -> None:
    from kubeplan.core.k8s import builtin_type
    from kubeplan.core.types import K8sType
    from kubeplan.testkit.apiserver import FakeApiServer

    async with FakeApiServer() as server:
        # a versioned example's conversion webhook, answered in process
        server.conversion_webhooks.serve_operator(load_definition(target))
        client = server.client()
        crd_types: dict[tuple[str, str], K8sType] = {}
        for obj in objects:
            if obj["apiVersion"].startswith("cert-manager.io/"):
                continue  # cert-manager's own CRDs are not in the fake
            type_ = builtin_type(obj["apiVersion"], obj["kind"]) or crd_types.get(
                (obj["apiVersion"], obj["kind"]))
            assert type_ is not None, f"unknown type {obj['apiVersion']}/{obj['kind']}"
            await client.create(type_, obj)
            if obj["kind"] == "CustomResourceDefinition":
                spec = obj["spec"]
                version = spec["versions"][0]["name"]
                crd_types[(f"{spec['group']}/{version}", spec["names"]["kind"])] = K8sType(
                    f"{spec['group']}/{version}", spec["names"]["kind"], spec["names"]["plural"],
                    spec["scope"] == "Namespaced")
                await server.settle()


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_crd_and_sample_parent_are_accepted(capsys, example: str) -> None:
    target = f"{operator_file(example)}:operator"
    crd = output_of(capsys, "crd", target)
    sample = yaml.safe_load((ROOT / "examples" / example / EXAMPLES[example]).read_text())
    asyncio.run(_apply([*crd, sample], target))


@pytest.mark.parametrize("example", sorted(WITHOUT_CRD))
def test_a_decorator_of_a_built_in_type_has_no_crd(capsys, example: str) -> None:
    target = f"{operator_file(example)}:operator"
    assert main(["crd", target]) == 1
    assert "is a built-in type" in capsys.readouterr().err
    kinds = [o["kind"] for o in output_of(capsys, "manifests", target)]
    assert "CustomResourceDefinition" not in kinds
    sample = yaml.safe_load((ROOT / "examples" / example / WITHOUT_CRD[example]).read_text())
    asyncio.run(_apply([sample], target))


@pytest.mark.parametrize(("example", "module", "crd_file", "sample"), GROUP_OPERATORS,
                         ids=[f"{e}-{m}" for e, m, _c, _s in GROUP_OPERATORS])
def test_each_operator_of_a_group_example_has_an_accepted_crd_and_sample(
        capsys, example: str, module: str, crd_file: str, sample: str) -> None:
    folder = ROOT / "examples" / example
    target = f"{folder / module}:operator"
    crd = output_of(capsys, "crd", target)
    assert crd == [yaml.safe_load((folder / crd_file).read_text())]
    asyncio.run(_apply([*crd, yaml.safe_load((folder / sample).read_text())], target))


@pytest.mark.parametrize("example", sorted({**EXAMPLES, **WITHOUT_CRD}))
def test_manifests_apply_cleanly(capsys, example: str) -> None:
    target = f"{operator_file(example)}:operator"
    asyncio.run(_apply(output_of(capsys, "manifests", target, "--replicas", "2"), target))


@pytest.mark.kubectl
def test_kubectl_server_side_dry_run_accepts_every_crd(capsys, tmp_path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer

    files = []
    for example in sorted(EXAMPLES):
        crd = output_of(capsys, "crd", f"{operator_file(example)}:operator")
        path = tmp_path / f"{example}.yaml"
        path.write_text(yaml.safe_dump_all(crd))
        files.append(path)
    with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as fake:
        for path in files:
            done = subprocess.run(
                [kubectl, "--kubeconfig", str(fake.kubeconfig_path), "apply",
                 "--dry-run=server", "-f", str(path)],
                capture_output=True, text=True, timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert "(server dry run)" in done.stdout


def test_every_example_has_its_parts() -> None:
    for example, sample in {**EXAMPLES, **WITHOUT_CRD}.items():
        folder = ROOT / "examples" / example
        crd = () if example in WITHOUT_CRD else ("crd.yaml",)
        for part in (operator_file(example).name, *crd, "README.md", sample):
            assert (folder / part).is_file(), f"{example} lacks {part}"
        assert list(folder.glob("test_*.py")), f"{example} has no tests"
        load_definition(f"{operator_file(example)}:operator")
    # every example is in the table above, so none escapes these tests
    for example, operators in GROUP_EXAMPLES.items():
        folder = ROOT / "examples" / example
        assert (folder / "README.md").is_file() and list(folder.glob("test_*.py")), example
        for module, crd_file, sample in operators:
            for part in (module, crd_file, sample):
                assert (folder / part).is_file(), f"{example} lacks {part}"
            load_definition(f"{folder / module}:operator")
    folders = [p.name for p in (ROOT / "examples").iterdir()
               if p.is_dir() and not p.name.startswith((".", "_"))]
    assert sorted(folders) == sorted({**EXAMPLES, **WITHOUT_CRD, **GROUP_EXAMPLES})
