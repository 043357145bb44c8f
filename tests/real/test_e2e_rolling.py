"""examples/rolling end to end: `kubeplan run` against the chosen server (fake, real or both).

A Fleet of three ConfigMaps moves to a new version one member at a time: the next member
is recreated only once the last one reports ready (label ``ready=true``); a member that
reports ``ready=false`` halts the rollout, with the reason in the Fleet's ``RolledOut``
condition, until it reports ready again.
"""

from __future__ import annotations

from e2e_support import E2E, EXAMPLES, RawObject, condition, eventually, load_yaml, stays

from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType

FLEET = K8sType("example.kubeplan.dev/v1", "Fleet", "fleets")
CM = core_v1.ConfigMap
TARGET = "examples/rolling/rolling_operator.py:operator"
NAMES = ("web-0", "web-1", "web-2")


def versions(e2e: E2E) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in NAMES:
        found = e2e.admin.get(CM, name, e2e.namespace)
        out[name] = ((found or {}).get("data") or {}).get("version")
    return out


def label(e2e: E2E, value: str, *names: str) -> None:
    for name in names:
        e2e.admin.merge_patch(CM, name, {"metadata": {"labels": {"ready": value}}},
                              e2e.namespace)


def rolled_out(e2e: E2E, reason: str) -> RawObject:
    def check() -> RawObject | None:
        found = condition(e2e.admin.get(FLEET, "web", e2e.namespace), "RolledOut")
        return found if found and found.get("reason") == reason else None

    return eventually(check, what=f"Fleet web RolledOut reason {reason}", context=e2e.logs)


def at(e2e: E2E, expected: dict[str, str]) -> None:
    eventually(lambda: versions(e2e) == expected, what=f"members at {expected}",
               context=lambda: f"{versions(e2e)}\n{e2e.logs()}")


def test_a_rollout_halts_on_a_failed_check_and_goes_on_once_it_passes(e2e: E2E) -> None:
    e2e.operator(TARGET)
    sample = load_yaml(EXAMPLES / "rolling" / "fleet.yaml")
    sample["metadata"]["namespace"] = e2e.namespace
    e2e.admin.create(FLEET, sample)
    e2e.remember(FLEET, "web", e2e.namespace)
    at(e2e, dict.fromkeys(NAMES, "v1"))
    label(e2e, "true", *NAMES)
    rolled_out(e2e, "Complete")

    e2e.admin.merge_patch(FLEET, "web", {"spec": {"version": "v2"}}, e2e.namespace)
    at(e2e, {"web-0": "v2", "web-1": "v1", "web-2": "v1"})
    progressing = rolled_out(e2e, "Progressing")
    assert "updating web-0" in progressing["message"], progressing

    label(e2e, "false", "web-0")
    halted = rolled_out(e2e, "CheckFailed")
    assert "ConfigMap web-0: check app_ready failed" in halted["message"], halted
    stays(lambda: versions(e2e) == {"web-0": "v2", "web-1": "v1", "web-2": "v1"},
          what="a member was updated while the rollout was halted", duration=2.0)

    label(e2e, "true", "web-0")
    at(e2e, {"web-0": "v2", "web-1": "v2", "web-2": "v1"})
    label(e2e, "true", "web-1")
    at(e2e, dict.fromkeys(NAMES, "v2"))
    label(e2e, "true", "web-2")
    rolled_out(e2e, "Complete")
    stored = e2e.admin.get(FLEET, "web", e2e.namespace) or {}
    assert stored["status"]["rollout"]["ConfigMap"] == {
        "total": 3, "updated": 3, "ready": 3, "updating": [], "waiting": 0}
    assert stored["status"]["version"] == "v2"
