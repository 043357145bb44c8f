"""Recording on the real kube-apiserver: `kubeplan run --record` of examples/member,
stopped by SIGTERM, replayed in virtual time with the same plans."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from e2e_support import E2E, EXAMPLES, eventually, load_yaml

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType
from kubeplan.testkit.replay import assert_replays

MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")
TARGET = "examples/member/member_operator.py:operator"


def _member_operator() -> object:
    sys.path.insert(0, str(EXAMPLES / "member"))
    try:
        import member_operator
    finally:
        sys.path.remove(str(EXAMPLES / "member"))
    return member_operator.operator


def test_a_recording_on_the_real_server_replays_with_the_same_plans(
        real_e2e: E2E, tmp_path: Path) -> None:
    e2e, recording = real_e2e, tmp_path / "member.jsonl"
    e2e.admin.install_crd(EXAMPLES / "member" / "crd.yaml")
    operator = e2e.operator(TARGET, args=["--record", str(recording)])
    admin, ns = e2e.admin, e2e.namespace
    sample = load_yaml(EXAMPLES / "member" / "member.yaml")
    sample["metadata"]["namespace"] = ns
    admin.create(MEMBER, sample)

    def greeting(text: str) -> bool:
        found = admin.get(core_v1.ConfigMap, "member-ada", ns) or {}
        return (found.get("data") or {}).get("greeting") == text

    eventually(lambda: greeting("Hello, ada! Welcome to analytical-engines."),
               what="the first greeting", context=e2e.logs)
    admin.merge_patch(MEMBER, "ada", {"spec": {"memberOf": "difference-engines"}}, ns)
    eventually(lambda: greeting("Hello, ada! Welcome to difference-engines."),
               what="the second greeting", context=e2e.logs)
    assert operator.stop() == 0, operator.describe()

    records = [orjson.loads(line) for line in recording.read_bytes().splitlines()]
    assert records[0]["kind"] == "header" and records[0]["operator"] == "member"
    ours = [r for r in records if r["kind"] == "plan" and r["namespace"] == ns]
    lines = [line for r in ours for line in r["lines"]]
    assert any(line.startswith(f"create  v1/ConfigMap {ns}/member-ada") for line in lines)
    assert any(line.startswith(f"replace v1/ConfigMap {ns}/member-ada") for line in lines)
    writes = [r for r in records if r["kind"] == "call" and r["namespace"] == ns
              and r["type"] == "v1/ConfigMap"]
    assert writes and all(r["code"] == 200 for r in writes)
    result = assert_replays(recording, _member_operator())
    assert result.syncs == sum(r["kind"] == "sync" for r in records)
