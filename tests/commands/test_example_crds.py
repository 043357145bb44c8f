"""Every example's `kubeplan crd` output is accepted by the fake API server (and by
`kubectl apply --dry-run=server` against it), its sample parent validates, and
`kubeplan manifests` output applies cleanly."""

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
}


def output_of(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(list(argv)) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


async def _apply(objects: list[dict]) -> None:
    from kubeplan.core.k8s import builtin_type
    from kubeplan.core.types import K8sType
    from kubeplan.testkit.apiserver import FakeApiServer

    async with FakeApiServer() as server:
        client = server.client()
        crd_types: dict[tuple[str, str], K8sType] = {}
        for obj in objects:
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
    target = f"{ROOT}/examples/{example}/operator.py:operator"
    crd = output_of(capsys, "crd", target)
    sample = yaml.safe_load((ROOT / "examples" / example / EXAMPLES[example]).read_text())
    asyncio.run(_apply([*crd, sample]))


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_manifests_apply_cleanly(capsys, example: str) -> None:
    target = f"{ROOT}/examples/{example}/operator.py:operator"
    asyncio.run(_apply(output_of(capsys, "manifests", target, "--replicas", "2")))


@pytest.mark.kubectl
def test_kubectl_server_side_dry_run_accepts_every_crd(capsys, tmp_path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer

    files = []
    for example in sorted(EXAMPLES):
        crd = output_of(capsys, "crd", f"{ROOT}/examples/{example}/operator.py:operator")
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
    for example, sample in EXAMPLES.items():
        folder = ROOT / "examples" / example
        for part in ("operator.py", "crd.yaml", "README.md", sample):
            assert (folder / part).is_file(), f"{example} lacks {part}"
        assert list(folder.glob("test_*.py")), f"{example} has no tests"
        load_definition(f"{folder / 'operator.py'}:operator")
