"""Regenerate ``kubeplan/testkit/apiserver/table_docs.py``: the Table column descriptions.

The real server's printers (k8s.io/kubernetes pkg/printers/internalversion, ``AddHandlers``)
describe most columns with a field's OpenAPI description, ``SomeType{}.SwaggerDoc()[field]``.
Those come from the ``types_swagger_doc_generated.go`` files of k8s.io/api and
k8s.io/apimachinery; this script reads the ones the fake's printers name from the Go module
cache and writes them out as a Python table.

    python testkit/scripts/gen_table_docs.py [--api DIR] [--apimachinery DIR]

The defaults are the v0.36.3 modules under ``~/go/pkg/mod`` (the release the fake follows).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

MOD = Path.home() / "go" / "pkg" / "mod" / "k8s.io"
RELEASE = "v0.36.3"

#: (package, Go type, field) of every description the printers use for the kinds the
#: fake serves; package is the directory under k8s.io/api (or "meta/v1" for apimachinery)
WANTED: tuple[tuple[str, str, str], ...] = (
    ("meta/v1", "ObjectMeta", "name"),
    ("meta/v1", "ObjectMeta", "creationTimestamp"),
    ("core/v1", "PodStatus", "podIP"),
    ("core/v1", "PodStatus", "nominatedNodeName"),
    ("core/v1", "PodSpec", "nodeName"),
    ("core/v1", "PodSpec", "readinessGates"),
    ("core/v1", "PodSpec", "nodeSelector"),
    ("core/v1", "ServiceSpec", "type"),
    ("core/v1", "ServiceSpec", "clusterIP"),
    ("core/v1", "ServiceSpec", "externalIPs"),
    ("core/v1", "ServiceSpec", "ports"),
    ("core/v1", "ServiceSpec", "selector"),
    ("core/v1", "Secret", "type"),
    ("core/v1", "Secret", "data"),
    ("core/v1", "ConfigMap", "data"),
    ("core/v1", "Event", "lastTimestamp"),
    ("core/v1", "Event", "type"),
    ("core/v1", "Event", "reason"),
    ("core/v1", "Event", "involvedObject"),
    ("core/v1", "Event", "source"),
    ("core/v1", "Event", "message"),
    ("core/v1", "Event", "firstTimestamp"),
    ("core/v1", "Event", "count"),
    ("core/v1", "ObjectReference", "fieldPath"),
    ("core/v1", "PersistentVolumeClaimStatus", "phase"),
    ("core/v1", "PersistentVolumeClaimStatus", "capacity"),
    ("core/v1", "PersistentVolumeClaimStatus", "accessModes"),
    ("core/v1", "PersistentVolumeClaimSpec", "volumeName"),
    ("core/v1", "PersistentVolumeClaimSpec", "volumeMode"),
    ("apps/v1", "ReplicaSetSpec", "replicas"),
    ("apps/v1", "ReplicaSetSpec", "selector"),
    ("apps/v1", "ReplicaSetStatus", "replicas"),
    ("apps/v1", "ReplicaSetStatus", "readyReplicas"),
    ("apps/v1", "DaemonSetStatus", "desiredNumberScheduled"),
    ("apps/v1", "DaemonSetStatus", "currentNumberScheduled"),
    ("apps/v1", "DaemonSetStatus", "numberReady"),
    ("apps/v1", "DaemonSetStatus", "updatedNumberScheduled"),
    ("apps/v1", "DaemonSetStatus", "numberAvailable"),
    ("apps/v1", "DaemonSetSpec", "selector"),
    ("apps/v1", "DeploymentStatus", "updatedReplicas"),
    ("apps/v1", "DeploymentStatus", "availableReplicas"),
    ("apps/v1", "DeploymentSpec", "selector"),
    ("batch/v1", "JobStatus", "succeeded"),
    ("batch/v1", "JobSpec", "selector"),
    ("batch/v1", "CronJobSpec", "schedule"),
    ("batch/v1", "CronJobSpec", "timeZone"),
    ("batch/v1", "CronJobSpec", "suspend"),
    ("batch/v1", "CronJobStatus", "active"),
    ("batch/v1", "CronJobStatus", "lastScheduleTime"),
    ("networking/v1", "NetworkPolicySpec", "podSelector"),
    ("rbac/v1beta1", "RoleBinding", "roleRef"),
    ("rbac/v1beta1", "ClusterRoleBinding", "roleRef"),
    ("coordination/v1", "LeaseSpec", "holderIdentity"),
    ("autoscaling/v2", "HorizontalPodAutoscalerSpec", "scaleTargetRef"),
    ("autoscaling/v2", "HorizontalPodAutoscalerSpec", "metrics"),
    ("autoscaling/v2", "HorizontalPodAutoscalerSpec", "minReplicas"),
    ("autoscaling/v2", "HorizontalPodAutoscalerSpec", "maxReplicas"),
    ("autoscaling/v2", "HorizontalPodAutoscalerStatus", "currentReplicas"),
)

_ENTRY = re.compile(r'^\s*"(?P<field>[^"]*)":\s*(?P<text>".*"),\s*$')


def _source(package: str, api: Path, apimachinery: Path) -> Path:
    if package == "meta/v1":
        return apimachinery / "pkg" / "apis" / "meta" / "v1" / "types_swagger_doc_generated.go"
    return api / package / "types_swagger_doc_generated.go"


def _maps(path: Path) -> dict[str, dict[str, str]]:
    """Every ``var map_<Type> = map[string]string{...}`` of a swagger doc file."""
    maps: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in path.read_text().splitlines():
        start = re.match(r"^var map_(\w+) = map\[string\]string\{$", line)
        if start:
            current = maps.setdefault(start.group(1), {})
        elif line.startswith("}"):
            current = None
        elif current is not None:
            entry = _ENTRY.match(line)
            if entry:  # a Go interpreted string literal; its escapes are JSON's
                current[entry.group("field")] = json.loads(entry.group("text"))
    return maps


def generate(api: Path, apimachinery: Path) -> str:
    files: dict[str, dict[str, dict[str, str]]] = {}
    lines = [
        '"""Generated by testkit/scripts/gen_table_docs.py from the SwaggerDoc() tables of',
        f"k8s.io/api and k8s.io/apimachinery {RELEASE} (types_swagger_doc_generated.go): the",
        "field descriptions the real server's printers give their Table columns. Do not edit.",
        '"""',
        "",
        "#: ``package.Type.field`` -> the field's OpenAPI description",
        "DOCS: dict[str, str] = {",
    ]
    for package, type_name, field in WANTED:
        if package not in files:
            files[package] = _maps(_source(package, api, apimachinery))
        try:
            text = files[package][type_name][field]
        except KeyError:
            raise SystemExit(f"{package} {type_name}.{field}: no SwaggerDoc entry") from None
        lines.append(f"    {package + '.' + type_name + '.' + field!r}:")
        lines.extend(f"        {chunk!r}" for chunk in _chunks(text))
        lines[-1] += ","
    lines.append("}")
    return "\n".join(lines) + "\n"


def _chunks(text: str, width: int = 80) -> list[str]:
    """The text cut at spaces into pieces that fit a line (joined again by Python)."""
    pieces: list[str] = []
    while len(text) > width:
        cut = text.rfind(" ", 0, width)
        cut = width if cut <= 0 else cut + 1
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=Path, default=MOD / f"api@{RELEASE}")
    parser.add_argument("--apimachinery", type=Path, default=MOD / f"apimachinery@{RELEASE}")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1]
                        / "kubeplan" / "testkit" / "apiserver" / "table_docs.py")
    args = parser.parse_args(argv)
    args.output.write_text(generate(args.api, args.apimachinery))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
