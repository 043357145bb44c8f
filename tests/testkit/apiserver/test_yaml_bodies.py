"""YAML bodies read as kube-apiserver reads them (sigs.k8s.io/yaml over
go.yaml.in/yaml/v2); each answer below was taken from a real v1.36 server."""

from __future__ import annotations

import time

import pytest

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.codec import decode_yaml


def laughs(levels: int) -> bytes:
    lines = [b"apiVersion: v1", b"kind: ConfigMap", b"metadata: {name: laughs}", b"x:",
             b'  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [b"  a%d: &a%d [%s]" % (i, i, b",".join([b"*a%d" % (i - 1)] * 9))
              for i in range(1, levels)]
    return b"\n".join(lines) + b"\n"


def test_aliases_that_expand_a_document_beyond_its_size_are_refused_at_once() -> None:
    started = time.process_time()
    with pytest.raises(status.StatusError) as refused:
        decode_yaml(laughs(10))  # 9**10 strings once expanded
    assert time.process_time() - started < 5  # refused before anything is expanded
    assert refused.value.code == 400
    assert "yaml: document contains excessive aliasing (61706956657273696f6e" in str(
        refused.value)


def test_modest_aliasing_is_read_as_copies() -> None:
    body = (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: few\n"
            b"  labels: &l {a: b}\n  annotations: *l\n")
    meta = decode_yaml(body)["metadata"]
    assert meta["labels"] == meta["annotations"] == {"a": "b"}
    assert decode_yaml(laughs(3))["x"]["a2"][0][0] == ["lol"] * 9  # 729 strings: fine


def test_y_and_n_are_booleans_as_in_yaml_1_1() -> None:
    data = decode_yaml(b"data: {y: a, N: b, plain: 'n', quoted: 'y', on: c}\n")["data"]
    assert data == {"true": "a", "false": "b", "plain": "n", "quoted": "y"} | {"true": "c"}
    assert decode_yaml(b"flags: [y, Y, n, N, yes, off, 'y', yy]\n")["flags"] == [
        True, True, False, False, True, False, "y", "yy"]
