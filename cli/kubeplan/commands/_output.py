"""Printing Kubernetes objects the way ``kubectl apply -f -`` reads them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

FORMATS = ("yaml", "json")


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that keeps key order (Kubernetes objects read top-down)."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # multi-line strings (descriptions) as literal blocks, so the output stays readable
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render(objects: Sequence[dict[str, Any]], fmt: str) -> str:
    """One object as itself, several as a multi-document YAML stream or a JSON ``v1 List``."""
    if fmt == "json":
        body: Any = (
            objects[0]
            if len(objects) == 1
            else {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        )
        return json.dumps(body, indent=2) + "\n"
    return yaml.dump_all(
        objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
        explicit_start=len(objects) > 1,
    )
