"""`kubeplan run` and `kubeplan manifests` for an operator with admission webhooks: TLS
options required where the API server calls them, the webhook configurations printed,
and `run --embedded` serving them so that `kubectl apply` of a denied parent fails with
the validator's reason while an allowed one converges."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from embedded_run import embedded_run

from kubeplan.cli import main
from kubeplan.testkit.realkube.pki import make_pki

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "admission"
TARGET = f"{EXAMPLE / 'admission_operator.py'}:operator"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_needs_the_webhook_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", TARGET, "--kubeconfig", "/nonexistent")
    assert code == 2
    assert "operator site has admission webhooks" in err
    assert "--tls-cert-file and --tls-key-file" in err


def test_manifests_print_the_configurations_on_the_webhook_service(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "manifests", TARGET)
    assert code == 0, err
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out)}
    validating = docs[("ValidatingWebhookConfiguration", "site-admission")]
    mutating = docs[("MutatingWebhookConfiguration", "site-admission")]
    for config in (validating, mutating):
        assert config["metadata"]["annotations"] == {
            "cert-manager.io/inject-ca-from": "kubeplan-system/site-webhook"}
    (check,) = validating["webhooks"]
    assert check["clientConfig"] == {"service": {
        "namespace": "kubeplan-system", "name": "site-webhook",
        "path": "/validate/site/check-site", "port": 443}}
    assert check["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    (default,) = mutating["webhooks"]
    assert default["rules"][0]["operations"] == ["CREATE"]
    assert ("Service", "site-webhook") in docs and ("Certificate", "site-webhook") in docs
    pod = docs[("Deployment", "site")]["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert "--tls-cert-file" in args and "/etc/kubeplan/webhook/tls.crt" in args
    assert {"name": "webhook-tls", "secret": {"secretName": "site-webhook-tls"}} in pod[
        "volumes"]


def test_manifests_with_a_ca_file_put_its_bundle_in_each_webhook(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    code, out, err = run(capsys, "manifests", TARGET, "--ca-file", str(pki.ca_cert))
    assert code == 0, err
    configs = [d for d in yaml.safe_load_all(out) if d["kind"].endswith("Configuration")]
    assert len(configs) == 2
    for config in configs:
        assert "annotations" not in config["metadata"]
        bundle = config["webhooks"][0]["clientConfig"]["caBundle"]
        assert base64.b64decode(bundle) == pki.ca_cert.read_bytes()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_kubectl_apply_against_run_embedded(tmp_path: Path) -> None:
    """The README's transcript: a denied Site fails with the validator's reason and is not
    stored; a valid one is defaulted by the mutator and converges."""
    with embedded_run(TARGET, tmp_path, ready="admission webhooks") as run:
        kubeconfig = run.kubeconfig

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args],
                                  capture_output=True, text=True, timeout=60, check=False)

        denied = kubectl("apply", "-f", str(EXAMPLE / "bad-site.yaml"))
        assert denied.returncode == 1
        assert ('admission webhook "check-site.site.kubeplan.dev" denied the request: '
                "spec.domain: 'shop.example.net' is not under example.com") in denied.stderr
        missing = kubectl("get", "site", "phish")
        assert missing.returncode == 1 and "NotFound" in missing.stderr
        applied = kubectl("apply", "-f", str(EXAMPLE / "site.yaml"))
        assert applied.returncode == 0, applied.stderr
        for _ in range(100):
            got = kubectl("get", "configmap", "site-shop", "-o", "json")
            if got.returncode == 0:
                break
            time.sleep(0.1)
        assert json.loads(got.stdout)["data"] == {
            "domain": "shop.example.com", "replicas": "2", "tier": "web"}
        site = json.loads(kubectl("get", "site", "shop", "-o", "json").stdout)
        assert site["spec"]["tier"] == "web"  # the mutator's default
