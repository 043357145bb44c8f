"""`kubeplan run` and `kubeplan manifests` for a parent type with several versions: the
webhook's TLS options are required where the API server will call it, and --ca-file
puts a caBundle in the CRD instead of cert-manager's certificate."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kubeplan.cli import main
from kubeplan.testkit.realkube.pki import make_pki

ROOT = Path(__file__).resolve().parents[2]
TARGET = f"{ROOT / 'examples' / 'versions' / 'versions_operator.py'}:operator"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_needs_the_webhook_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", TARGET, "--kubeconfig", "/nonexistent")
    assert code == 2
    assert "has several versions" in err and "--tls-cert-file and --tls-key-file" in err
    code, _, err = run(capsys, "run", TARGET, "--tls-cert-file", "c.pem")
    assert code == 2 and "give --tls-cert-file and --tls-key-file together" in err


def test_manifests_with_a_ca_file_write_its_bundle(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    code, out, err = run(capsys, "manifests", TARGET, "--ca-file", str(pki.ca_cert))
    assert code == 0, err
    docs = list(yaml.safe_load_all(out))
    kinds = [d["kind"] for d in docs]
    assert "Certificate" not in kinds and "Service" in kinds
    client = docs[0]["spec"]["conversion"]["webhook"]["clientConfig"]
    assert base64.b64decode(client["caBundle"]) == pki.ca_cert.read_bytes()


def test_manifests_refuse_a_ca_file_that_is_no_certificate(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("hello")
    code, _, err = run(capsys, "manifests", TARGET, "--ca-file", str(bad))
    assert code == 1 and f"--ca-file {bad}: no PEM certificate in it" in err
    code, _, err = run(capsys, "manifests", TARGET, "--ca-file", str(tmp_path / "missing"))
    assert code == 1 and "missing" in err


def test_plan_reads_a_parent_of_another_version_as_the_watched_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    sample = ROOT / "examples" / "versions" / "greeting.yaml"  # apiVersion .../v1
    code, out, err = run(capsys, "plan", TARGET, "-f", str(sample))
    assert code == 2, err  # there is work: the ConfigMap to create
    assert "create" in out and "ConfigMap default/greeting-ada" in out


def test_plan_names_a_failing_conversion(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"apiVersion": "example.kubeplan.dev/v1", "kind": "Greeting",
                                   "metadata": {"name": "x"}, "spec": {}}))
    code, _, err = run(capsys, "plan", TARGET, "-f", str(bad))
    assert code == 1 and "conversion v1 -> v2 of x raised" in err, err


def test_crd_can_point_the_conversion_at_a_url(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    code, out, err = run(capsys, "crd", TARGET, "--webhook-url", "https://127.0.0.1:9443/convert",
                         "--ca-file", str(pki.ca_cert))
    assert code == 0, err
    client = yaml.safe_load(out)["spec"]["conversion"]["webhook"]["clientConfig"]
    assert client["url"] == "https://127.0.0.1:9443/convert"
    assert base64.b64decode(client["caBundle"]) == pki.ca_cert.read_bytes()
    code, _, err = run(capsys, "crd", TARGET, "--webhook-url", "http://127.0.0.1/convert")
    assert code == 1 and "https only" in err
    member = f"{ROOT / 'examples' / 'member' / 'member_operator.py'}:operator"
    code, _, err = run(capsys, "crd", member, "--webhook-url", "https://a/convert")
    assert code == 1 and "several versions" in err
