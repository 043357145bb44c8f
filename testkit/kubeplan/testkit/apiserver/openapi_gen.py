"""Writes ``openapi_builtin.json.gz``: the real kube-apiserver's OpenAPI documents, from
which ``openapi.py`` serves the built-in groups.

Why from a running server and not from Go sources: the documents kube-apiserver serves
are assembled at run time (``zz_generated.openapi.go`` definitions, plus the routes each
installed group registers, plus the shared parameters of ``/openapi/v2``), and the only
faithful copy of that assembly is the server's own answer.

Run ``python -m kubeplan.testkit.apiserver.openapi_gen [--kubeconfig K]``: with a
kubeconfig it reads that server; without one it starts the real control plane of
``kubeplan.testkit.realkube`` (the binaries must be built: ``kubeplan kube-apiserver
--build-only``) and stops it again. ``tests/testkit/apiserver/test_openapi_builtin.py``
checks that the committed file was written for the Kubernetes version realkube builds.

What is kept, per the wire shape of each document:

* ``v3``: every ``/openapi/v3/<path>`` document (``api``, ``apis``, ``version``,
  ``api/v1``, ``apis/GROUP``, ``apis/GROUP/VERSION``), its ``info`` and ``paths`` as
  served; their ``components.schemas`` are pooled once under ``schemas``, because each
  document holds exactly the schemas its paths reach (the closure of their ``$ref``\\ s,
  which the server computes too) and most are shared. The two schemas whose
  ``x-kubernetes-group-version-kind`` lists differ per document (``DeleteOptions``,
  ``WatchEvent``) keep that list per document under ``overrides``.
* ``v2``: ``/openapi/v2`` whole (paths, definitions, shared parameters, security).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from kubeplan.core.errors import InvalidArgument

__all__ = ["DATA_FILE", "collect", "main", "pool_documents"]

DATA_FILE = Path(__file__).with_name("openapi_builtin.json.gz")

#: documents the index lists that describe no API objects: left out
_SKIPPED = (".well-known/", "openid/")


def pool_documents(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``v3`` table of the data file from the served documents (path -> document)."""
    gvk = "x-kubernetes-group-version-kind"
    schemas: dict[str, Any] = {}
    varying: set[str] = set()
    for key in sorted(documents):
        for name, schema in _schemas(documents[key]).items():
            known = schemas.setdefault(name, schema)
            if known == schema:
                continue
            if _without(known, gvk) != _without(schema, gvk):
                raise InvalidArgument(f"schema {name} differs between documents beyond {gvk}")
            varying.add(name)
    overrides = {key: {name: schema.get(gvk) for name, schema in _schemas(doc).items()
                       if name in varying}
                 for key, doc in sorted(documents.items())}
    return {
        "schemas": schemas,
        "documents": {key: {"openapi": doc["openapi"], "info": doc["info"],
                            "paths": doc["paths"]} for key, doc in sorted(documents.items())},
        "overrides": {key: found for key, found in overrides.items() if found},
    }


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return dict((doc.get("components") or {}).get("schemas") or {})


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def collect(get: Any) -> dict[str, Any]:
    """Everything the data file holds, read with ``get(path) -> bytes``."""
    index = json.loads(get("/openapi/v3"))
    documents = {}
    for key in sorted(index["paths"]):
        if key.startswith(_SKIPPED):
            continue
        documents[key] = json.loads(get(f"/openapi/v3/{key}"))
    version = json.loads(get("/version"))
    return {
        "kubernetes": version["gitVersion"],
        "v3": pool_documents(documents),
        "v2": json.loads(get("/openapi/v2")),
    }


def _reader(kubeconfig: str) -> Any:
    import subprocess

    def get(path: str) -> bytes:
        return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "--raw", path],
                              check=True, capture_output=True).stdout
    return get


def write(data: dict[str, Any], path: Path = DATA_FILE) -> int:
    """Write the data file (deterministic bytes: sorted keys, no gzip time stamp)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    path.write_bytes(packed)
    return len(packed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="openapi_gen", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", help="read this server (default: start realkube)")
    parser.add_argument("--output", type=Path, default=DATA_FILE)
    args = parser.parse_args(argv[1:])
    if args.kubeconfig:
        data = collect(_reader(args.kubeconfig))
    else:
        from kubeplan.testkit.realkube import RealKubeApiServer, ensure_assets

        with RealKubeApiServer(ensure_assets()) as server, \
                tempfile.TemporaryDirectory() as folder:
            kubeconfig = str(Path(folder) / "kubeconfig")
            server.write_kubeconfig(kubeconfig)
            data = collect(_reader(kubeconfig))
    size = write(data, args.output)
    print(f"wrote {args.output} ({size} bytes, Kubernetes {data['kubernetes']}, "
          f"{len(data['v3']['documents'])} v3 documents)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
