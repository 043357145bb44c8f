"""`kubeplan plan` on a rolling child type: the children a rollout holds back are shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubeplan.cli import main
from kubeplan.commands._loading import load_definition
from kubeplan.commands.plan import plan_request, request_offline

ROOT = Path(__file__).resolve().parents[2]
ROLLING = f"{ROOT}/examples/rolling/rolling_operator.py:operator"
FLEET = ROOT / "examples/rolling/fleet.yaml"


def test_the_plan_names_the_next_member_and_why_the_others_wait(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    definition = load_definition(ROLLING)
    parent = yaml.safe_load(FLEET.read_text())
    first = plan_request(definition, request_offline(definition.config, parent, []))
    members = first.desired_objects()
    for member in members:
        member["metadata"]["labels"]["ready"] = "true"
    observed = tmp_path / "observed"
    observed.mkdir()
    (observed / "members.yaml").write_text(yaml.safe_dump_all(members))
    changed = tmp_path / "fleet.yaml"
    changed.write_text(yaml.safe_dump({**parent, "spec": {**parent["spec"], "version": "v2"}}))

    code = main(["plan", ROLLING, "-f", str(changed), "--observed", str(observed)])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "recreate v1/ConfigMap default/web-0: data.version" in out
    assert "wait    v1/ConfigMap default/web-1: rollout: 1 of at most 1 updating (web-0)" in out
    assert "wait    v1/ConfigMap default/web-2: rollout" in out

    main(["plan", ROLLING, "-f", str(changed), "--observed", str(observed), "-o", "json"])
    data = json.loads(capsys.readouterr().out)
    assert [w["ref"]["name"] for w in data["waiting"]] == ["web-1", "web-2"]
