"""Deeply nested request bodies: refused with the real server's 400, never a 500.

The real kube-apiserver (v1.36.3, probed) reads 10000 levels and answers 400
BadRequest "... json parse error: invalid character '[' exceeded max depth" beyond
them (for YAML "yaml: exceeded max depth of 10000"). The fake reads ``MAX_DEPTH``
levels (fewer: see codec.py), and everything it does with an object at that depth
works: stored, listed, patched, applied, read and written back with its managedFields.
"""

from __future__ import annotations

from typing import Any

import pytest
from apiserver_harness import CM, WIDGETS, call, install_crd, new_server

from kubeplan.testkit.apiserver.codec import MAX_DEPTH


def nested(levels: int, kind: str) -> bytes:
    """``levels`` levels of JSON arrays or objects around a scalar (as text: orjson
    writes no more than 254)."""
    opening, closing = (b"[", b"]") if kind == "array" else (b'{"a":', b"}")
    return opening * levels + b"1" + closing * levels


def configmap(name: str, depth: int, kind: str) -> bytes:
    """A ConfigMap nesting ``depth`` levels in all (the body is the first), in a field no
    ConfigMap has: read whole, then dropped with a warning (as the Go struct drops it)."""
    return (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"x":%s}'
            % (name.encode(), nested(depth - 1, kind)))


def widget(name: str, depth: int, kind: str) -> bytes:
    """A Widget nesting ``depth`` levels in all, below its free-form ``spec.free``."""
    return (b'{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"%s"},'
            b'"spec":{"size":1,"free":{"deep":%s}}}' % (name.encode(), nested(depth - 3, kind)))


def assert_too_deep(answer: Any, opening: str | None = None) -> None:
    assert answer.status == 400, answer.body
    assert answer.body["reason"] == "BadRequest"
    assert "exceeded max depth" in answer.body["message"]
    if opening is not None:
        assert f"invalid character '{opening}'" in answer.body["message"]


@pytest.mark.parametrize("kind", ["array", "object"])
async def test_an_object_at_the_limit_works_everywhere(kind: str) -> None:
    server = new_server()
    await install_crd(server)
    for path, body in ((CM, configmap("deep", MAX_DEPTH, kind)),
                       (WIDGETS, widget("deep", MAX_DEPTH, kind))):
        created = await call(server, "POST", path, raw=body, content_type="application/json")
        assert created.status == 201, created.body
        listed = await call(server, "GET", path)
        assert listed.status == 200 and len(listed.body["items"]) == 1
        patched = await call(server, "PATCH", f"{path}/deep", {"metadata": {"labels": {"a": "b"}}},
                             content_type="application/merge-patch+json")
        assert patched.status == 200, patched.body
        applied = await call(server, "PATCH", f"{path}/deep", raw=body,
                             content_type="application/apply-patch+yaml",
                             query={"fieldManager": "tests", "force": "true"})
        assert applied.status == 200, applied.body
        read = await call(server, "GET", f"{path}/deep")
        assert read.body["metadata"]["managedFields"]  # deeper than the object: taken back
        written_back = await call(server, "PUT", f"{path}/deep", read.body)
        assert written_back.status == 200, written_back.body


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 20_000])
async def test_a_json_body_past_the_limit_is_400(kind: str, depth: int) -> None:
    server = new_server()
    await install_crd(server)
    opening = "[" if kind == "array" else "{"
    for path, body in ((CM, configmap("deep", depth, kind)),
                       (WIDGETS, widget("deep", depth, kind))):
        created = await call(server, "POST", path, raw=body, content_type="application/json")
        assert_too_deep(created, opening)
    applied = await call(server, "PATCH", f"{CM}/deep", raw=configmap("deep", depth, kind),
                         content_type="application/apply-patch+yaml",
                         query={"fieldManager": "tests"})
    assert_too_deep(applied)
    assert (await call(server, "GET", CM)).body["items"] == []


def yaml_block(depth: int) -> bytes:
    """A ConfigMap in block-style YAML nesting ``depth`` levels in all."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: deep", "x:"]
    lines += [" " * level + "a:" for level in range(1, depth - 1)]
    lines.append(" " * (depth - 1) + "a: 1")
    return ("\n".join(lines) + "\n").encode()


def yaml_flow(depth: int) -> bytes:
    return b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nx: " + (
        b"[" * (depth - 1) + b"]" * (depth - 1) + b"\n")


@pytest.mark.parametrize("body", [yaml_block(MAX_DEPTH + 1), yaml_block(1000),
                                  yaml_flow(MAX_DEPTH + 1), yaml_flow(10_000)],
                         ids=["block-limit", "block-1000", "flow-limit", "flow-10000"])
async def test_a_yaml_body_past_the_limit_is_400(body: bytes) -> None:
    server = new_server()
    for content_type, query in (("application/yaml", {}),
                                ("application/apply-patch+yaml", {"fieldManager": "tests"})):
        method, path = ("POST", CM) if content_type == "application/yaml" else (
            "PATCH", f"{CM}/deep")
        answer = await call(server, method, path, raw=body, content_type=content_type,
                            query=query)
        assert_too_deep(answer)


async def test_a_yaml_body_at_the_limit_is_read() -> None:
    server = new_server()
    created = await call(server, "POST", CM, raw=yaml_block(MAX_DEPTH),
                         content_type="application/yaml")
    assert created.status == 201, created.body
    assert created.headers["Warning"] == '299 - "unknown field \\"x\\""'
    assert "x" not in created.body
