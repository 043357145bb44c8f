"""The Go peer's port of ``workload.py`` builds the same children and status.

    pytest bench/peers/test_controller_runtime.py

``controller-runtime-peer --render NAME --spec JSON`` prints what its reconciler applies
for a parent (before it adds the namespace and the owner reference, which
``workload.children`` leaves out too); the JSON must equal ``workload.children``'s and
``workload.status``'s, key for key and value for value (so also no field the Python
peers do not send). Skipped without ``go``. The benchmark harness checks the other half
after every convergence: the children the server holds (``harness.check_children``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "suite"))
import gopeer  # noqa: E402
import workload  # noqa: E402

SPECS: list[dict[str, Any]] = [
    workload.parent(0)["spec"],
    workload.parent(7, image="ghcr.io/example/echo:2.0.3")["spec"],
    {"replicas": 5, "image": "registry.example/other:9", "port": 9090},
    {},  # every default
    {"image": "only-the-image:1"},
]


@pytest.fixture(scope="module")
def binary() -> str:
    built = gopeer.build()
    if built["path"] is None:
        pytest.skip(built["reason"])
    return str(built["path"])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: json.dumps(s, sort_keys=True))
@pytest.mark.parametrize("name", ["trio-00000", "trio-12345"])
def test_render_equals_workload(binary: str, name: str, spec: dict[str, Any]) -> None:
    out = subprocess.run([binary, "--render", name, "--spec", json.dumps(spec)],
                         capture_output=True, text=True, check=True, timeout=30)
    rendered = json.loads(out.stdout)
    assert rendered["children"] == workload.children(name, spec)
    assert rendered["status"] == workload.status(spec)


def test_source_key_changes_with_the_sources(tmp_path: Path) -> None:
    """The cache key covers go.mod, go.sum and every .go file (and the toolchain)."""
    assert gopeer.source_key("go1.26") != gopeer.source_key("go1.27")
    assert {p.name for p in gopeer._sources()} >= {"go.mod", "go.sum", "main.go",
                                                   "workload.go"}
