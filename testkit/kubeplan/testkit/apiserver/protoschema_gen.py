"""Writes ``protobuf_schema.json``, the table ``protobuf.py`` decodes protobuf bodies by.

Why: kubectl 1.32+ sends the objects of its generators (``kubectl create deployment``,
``job``, ``role``, ``secret`` ...) as ``application/vnd.kubernetes.protobuf``. The wire
format says field numbers only; the numbers, types and names of every built-in kind
are in upstream's ``generated.proto`` files (k8s.io/api, k8s.io/apimachinery,
apiextensions-apiserver, kube-aggregator). What the real server makes of a decoded
object is its Go struct written as JSON, so the Go struct tags next to each
``.proto`` (``json:"name,omitempty" protobuf:"bytes,1,opt,name=name"``) add what a
``.proto`` does not say: the JSON name where it differs, ``,inline`` embedding,
``omitempty`` and pointers (a zero non-pointer field with ``omitempty`` is left out).

Run ``python -m kubeplan.testkit.apiserver.protoschema_gen [GOMODCACHE]`` to rewrite the
table from the Go module cache (``~/go/pkg/mod`` by default) after a Kubernetes bump;
``tests/testkit/apiserver/test_protobuf.py`` checks the committed table is what this
writes.

The table, per message (full proto name): ``fields`` = field number -> ``[json name,
type, flags, map key type]`` (flags: ``r`` repeated, ``m`` map, ``o`` omitted when
zero, ``i`` inline, ``p`` pointer; the type is a proto scalar or a full message name),
``go`` = field number -> the Go field's name where it is not the JSON name capitalized
(error messages name Go fields), and ``list`` for messages that are a Go slice
(``ExtraValue``: JSON is the items list);
``groups`` = apiVersion -> proto package.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kubeplan.core.errors import KubeplanError

VERSION = "v0.36.3"
SCHEMA_FILE = Path(__file__).with_name("protobuf_schema.json")

#: (module directory under the mod cache, package directories inside it, glob or list)
SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (f"k8s.io/api@{VERSION}", ("*/*",)),
    (f"k8s.io/apimachinery@{VERSION}", (
        "pkg/apis/meta/v1", "pkg/runtime", "pkg/runtime/schema", "pkg/util/intstr",
        "pkg/api/resource",
    )),
    (f"k8s.io/apiextensions-apiserver@{VERSION}", ("pkg/apis/apiextensions/v1",)),
    (f"k8s.io/kube-aggregator@{VERSION}", ("pkg/apis/apiregistration/v1",)),
)

SCALARS = frozenset({
    "string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "double", "float",
})


class ProtoSyntaxError(KubeplanError, ValueError):
    """A ``.proto`` construct outside the proto2 subset the parser reads."""


@dataclass
class ProtoField:
    name: str
    number: int
    label: str  # optional | repeated | map
    type: str
    key_type: str = ""


@dataclass
class ProtoMessage:
    full_name: str
    fields: list[ProtoField] = field(default_factory=list)


@dataclass
class ProtoFile:
    package: str = ""
    imports: list[str] = field(default_factory=list)
    messages: dict[str, ProtoMessage] = field(default_factory=dict)


_TOKEN = re.compile(
    r"\s*(?:(//[^\n]*|/\*.*?\*/)|(\"(?:[^\"\\]|\\.)*\")|(\.?[A-Za-z_][\w.]*|\d+)|(.))", re.S)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
        if match.group(1) is not None:
            continue  # comment
        token = match.group(2) or match.group(3) or match.group(4)
        if token and not token.isspace():
            out.append(token)
    return out


def parse_proto(text: str, where: str = "<proto>") -> ProtoFile:
    """The messages of a proto2 file: ``syntax``, ``package``, ``import``, ``option``,
    (nested) ``message`` with ``optional``/``repeated``/``map<,>`` fields."""
    tokens = _tokens(text)
    result = ProtoFile()
    pos = 0

    def expect(value: str) -> None:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != value:
            got = tokens[pos] if pos < len(tokens) else "end of file"
            raise ProtoSyntaxError(f"{where}: expected {value!r}, got {got!r}")
        pos += 1

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ProtoSyntaxError(f"{where}: unexpected end of file")
        pos += 1
        return tokens[pos - 1]

    def skip_statement() -> None:
        nonlocal pos
        while take() != ";":
            pass

    def message(scope: str) -> None:
        name = take()
        full = f"{scope}.{name}" if scope else name
        msg = ProtoMessage(full)
        result.messages[full] = msg
        expect("{")
        while True:
            token = take()
            if token == "}":
                return
            if token == "message":
                message(full)
            elif token in ("option", "reserved"):
                skip_statement()
            elif token in ("optional", "repeated", "required"):
                ftype = take()
                fname = take()
                expect("=")
                number = int(take())
                if tokens[pos] == "[":  # field options: [default = ...]
                    while take() != "]":
                        pass
                expect(";")
                msg.fields.append(ProtoField(fname, number,
                                             "repeated" if token == "repeated" else "optional",
                                             ftype))
            elif token == "map":
                expect("<")
                key = take()
                expect(",")
                value = take()
                expect(">")
                fname = take()
                expect("=")
                number = int(take())
                expect(";")
                msg.fields.append(ProtoField(fname, number, "map", value, key))
            else:
                raise ProtoSyntaxError(f"{where}: {token!r} in message {full} is not in the "
                                       "proto2 subset this parser reads")

    while pos < len(tokens):
        token = take()
        if token == "syntax":
            skip_statement()
        elif token == "package":
            result.package = take()
            expect(";")
        elif token == "import":
            result.imports.append(take().strip('"'))
            expect(";")
        elif token == "option":
            skip_statement()
        elif token == "message":
            message(result.package)
        else:
            raise ProtoSyntaxError(f"{where}: unexpected {token!r} at top level")
    return result


@dataclass
class GoField:
    name: str  # the Go field's name (an embedded field's: its type's)
    json: str
    omitempty: bool
    pointer: bool
    inline: bool


_STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
_SLICE = re.compile(r"^type (\w+) \[\]", re.M)
_TAGGED = re.compile(r"^\s*(\*?[\w.]+)(?:[ \t]+([\w.\[\]*]+))?[ \t]+`([^`]*)`", re.M)
_TAG = re.compile(r'(\w+):"([^"]*)"')
_GROUP = re.compile(r'^const GroupName = "([^"]*)"', re.M)


def parse_go_dir(directory: Path) -> tuple[dict[str, dict[int, GoField]], set[str], str | None]:
    """Struct tags by struct name and protobuf field number; the slice types; the group."""
    structs: dict[str, dict[int, GoField]] = {}
    slices: set[str] = set()
    group: str | None = None
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        text = path.read_text()
        slices.update(_SLICE.findall(text))
        if found := _GROUP.search(text):
            group = found.group(1)
        for struct in _STRUCT.finditer(text):
            tagged: dict[int, GoField] = {}
            for line in struct.group(2).splitlines():
                match = _TAGGED.match(line)
                if match is None:
                    continue
                tags = dict(_TAG.findall(match.group(3)))
                if "protobuf" not in tags:
                    continue
                parts = tags["protobuf"].split(",")
                if len(parts) < 2 or not parts[1].isdigit():
                    continue  # `protobuf:"-"`: not on the wire
                json_name, *options = tags.get("json", "").split(",")
                # `Name Type` or an embedded `Type` alone (then group 2 is empty)
                go_type = match.group(2) if match.group(2) else match.group(1) or ""
                embedded = not match.group(2)
                go_name = match.group(1).lstrip("*").rsplit(".", 1)[-1]
                tagged[int(parts[1])] = GoField(
                    name=go_name, json=json_name, omitempty="omitempty" in options,
                    pointer=go_type.startswith("*"),
                    inline="inline" in options or (not json_name and embedded))
            structs[struct.group(1)] = tagged
    return structs, slices, group


def _resolve(type_name: str, scope: str, known: set[str]) -> str:
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        return type_name[1:]
    parts = scope.split(".")
    while parts:  # innermost scope outwards, as protoc resolves
        candidate = ".".join([*parts, type_name])
        if candidate in known:
            return candidate
        parts.pop()
    if type_name in known:
        return type_name
    raise ProtoSyntaxError(f"unknown type {type_name!r} in {scope}")


class MissingSource(KubeplanError, FileNotFoundError):
    """A module of the Go module cache the generator reads is not there."""


def build(modcache: Path) -> dict[str, object]:
    files: list[tuple[ProtoFile, dict[str, dict[int, GoField]], set[str], str, str]] = []
    for module, patterns in SOURCES:
        root = modcache / module
        if not root.is_dir():
            raise MissingSource(f"{root} is missing: `go mod download {module}`")
        for pattern in patterns:
            for proto in sorted(root.glob(f"{pattern}/generated.proto")):
                rel = proto.parent.relative_to(root).as_posix()
                parsed = parse_proto(proto.read_text(), f"{module}/{rel}/generated.proto")
                structs, slices, group = parse_go_dir(proto.parent)
                version = proto.parent.name
                api_version = ""
                if group is not None:
                    api_version = f"{group}/{version}" if group else version
                files.append((parsed, structs, slices, api_version, module))
    known = {name for f in files for name in f[0].messages}
    messages: dict[str, object] = {}
    groups: dict[str, str] = {}
    for parsed, structs, slices, api_version, _module in files:
        if api_version:
            groups[api_version] = parsed.package
        for full, msg in parsed.messages.items():
            short = full.rsplit(".", 1)[1]
            tags = structs.get(short, {})
            entry: dict[str, object] = {}
            table: dict[str, list[str]] = {}
            go_names: dict[str, str] = {}
            for f in msg.fields:
                go = tags.get(f.number)
                flags = ""
                if f.label == "repeated":
                    flags += "r"
                elif f.label == "map":
                    flags += "m"
                name = f.name
                if go is not None:
                    name = go.json or f.name
                    if go.name != name[:1].upper() + name[1:]:
                        go_names[str(f.number)] = go.name
                    if go.inline:
                        flags += "i"
                    if go.pointer:
                        flags += "p"
                    elif go.omitempty:
                        flags += "o"
                row = [name, _resolve(f.type, full, known), flags]
                if f.key_type:
                    row.append(f.key_type)
                table[str(f.number)] = row
            entry["fields"] = table
            if go_names:
                entry["go"] = go_names
            if short in slices:
                entry["list"] = True
            messages[full] = entry
    return {"source": f"k8s.io/api@{VERSION} and friends", "groups": dict(sorted(groups.items())),
            "messages": dict(sorted(messages.items()))}


def render(schema: dict[str, object]) -> str:
    return json.dumps(schema, separators=(",", ":"), sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    modcache = Path(argv[1]) if len(argv) > 1 else Path.home() / "go" / "pkg" / "mod"
    SCHEMA_FILE.write_text(render(build(modcache)))
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
