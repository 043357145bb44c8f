"""``kubeplan plan`` for an operator with an external source: the source is read once
(a real HTTP server on 127.0.0.1) and handed to the handler; a failing source is planned
as the runtime plans it, touching no child."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kubeplan.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "external-http"
FLAGS = [{"id": "dark-mode", "value": "on"}, {"id": "beta-search", "value": "off"}]


class _Flags(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/flags":
            body = json.dumps(FLAGS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b"flag store down"
            self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flag_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flags)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _operator_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "flags_operator.py"
    path.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(EXAMPLE)!r})\n"
        "from external_http_operator import FlagSetSpec, FlagSetStatus, config_for, sync\n"
        "from kubeplan.core.definition import OperatorDefinition\n"
        f"operator = OperatorDefinition(config_for({url!r}), sync, spec_class=FlagSetSpec,\n"
        "                              status_class=FlagSetStatus)\n")
    return f"{path}:operator"


def test_plan_reads_the_source_once_and_plans_with_it(
        tmp_path: Path, flag_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = _operator_file(tmp_path, f"{flag_url}/flags")
    code = main(["plan", target, "-f", str(EXAMPLE / "flagset.yaml"), "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 2, err  # 2: the parent would change
    plan = json.loads(out)
    assert plan["error"] is None
    child = next(a for a in plan["actions"] if a["ref"]["kind"] == "ConfigMap")
    assert child["action"] == "create"
    assert child["obj"]["data"] == {"dark-mode": "on", "beta-search": "off"}


def test_plan_with_a_failing_source_touches_no_child(
        tmp_path: Path, flag_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = _operator_file(tmp_path, f"{flag_url}/broken")
    code = main(["plan", target, "-f", str(EXAMPLE / "flagset.yaml")])
    out, err = capsys.readouterr()
    assert code == 2, err  # the Synced=False status write
    assert "ConfigMap" not in out
    assert "source 'flags'" in out and "HTTP 503: flag store down" in out
