"""The differential engine: one request sequence sent to the fake and to a real
kube-apiserver, the answers normalised, compared and recorded.

A sequence is a list of :class:`Step` (a request, a watch, a poll). Values a server
assigned in an earlier answer (a resourceVersion, a continue token, a generated name)
are taken with :class:`Ref`, resolved against the same server's answers, so the same
sequence is meaningful on both. Each server runs the whole sequence in a thread of its
own (they are independent; waits and watches overlap), then the answers are compared
step by step after :func:`normalise` removed what legitimately differs.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from kubeplan.testkit.endpoint import KubeEndpoint

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
#: the default field manager of both servers is this User-Agent's prefix
USER_AGENT = "kubeplan-differential/v0 (linux/amd64)"
MISSING = "<missing>"

Answer = dict[str, Any]
"""One step's answer: ``code``, ``contentType`` and ``body`` (for a watch the events)."""


# -- the sequence -----------------------------------------------------------------------


@attrs.frozen
class Ref:
    """A value from an earlier step's answer on the same server: ``path`` is dotted with
    ``[i]`` indexes into the answer's body (``metadata.resourceVersion``, ``items[0]...``);
    ``step`` is the step's label or index. ``fmt`` formats the value (``"{}"``)."""

    step: str | int
    path: str
    fmt: str = "{}"


@attrs.frozen
class Derived:
    """A value made from an earlier step's answer body on the same server (a copy):
    ``fn(body)``, e.g. the object read, edited, to be written back."""

    step: str | int
    fn: Callable[[Any], Any]


Predicate = Callable[[Answer], bool]
Project = Callable[[Answer], Answer]


@attrs.frozen
class Step:
    """One request. ``path`` may hold ``{ns}`` (the sequence's namespace); ``query``
    values and anything in ``body`` may be :class:`Ref`.

    ``watch``: the request is a watch; its events are read until the server ends it
    (``timeoutSeconds`` is set from ``watch_seconds``), or, with ``background``, it is
    opened here and read while the following steps run, and its events become the
    answer of the step labelled by ``join``.
    ``until``: the request is repeated (every ``poll_interval``) until the answer
    satisfies it or ``timeout`` passes (the last answer is kept, marked ``timedOut``).
    ``project``: what of the answer is compared (default: all of it).
    ``compare=False``: a set-up step, run on both but not compared.
    """

    method: str
    path: str
    body: Any = None
    content_type: str = JSON
    query: Mapping[str, Any] = attrs.field(factory=dict)
    accept: str = JSON
    label: str = ""
    watch: bool = False
    watch_seconds: int = 2
    background: bool = False
    until: Predicate | None = None
    timeout: float = 60.0
    poll_interval: float = 0.25
    project: Project | None = None
    compare: bool = True
    #: ``"fake"`` or ``"real"``: run on that server alone, never compared (a wait for
    #: a controller only one of them runs, so that the next reads are not racy)
    only: str | None = None
    #: the step's name in reports (defaults to method and path)
    title: str = ""

    def describe(self) -> str:
        if self.title:
            return self.title
        if self.only:
            return f"wait on {self.only}: {self.method} {self.path}"
        query = f"?{urllib.parse.urlencode(_shown_query(self.query))}" if self.query else ""
        kind = " (watch)" if self.watch else ""
        ctype = f" [{self.content_type.split('/')[-1]}]" if self.method in (
            "PATCH",) else ""
        return f"{self.method} {self.path}{query}{ctype}{kind}"


@attrs.frozen
class Join:
    """The events of the background watch step labelled ``watch``, once it ended."""

    watch: str
    label: str = ""
    project: Project | None = None
    compare: bool = True
    title: str = ""

    def describe(self) -> str:
        return self.title or f"events of watch {self.watch!r}"


@attrs.frozen
class Sleep:
    """A pause on both servers (so that a controller can act); never compared."""

    seconds: float
    label: str = ""
    compare: bool = False
    project: Project | None = None

    def describe(self) -> str:
        return f"sleep {self.seconds}s"


AnyStep = Step | Join | Sleep


def _shown_query(query: Mapping[str, Any]) -> dict[str, str]:
    return {k: (f"<{v.step}:{v.path}>" if isinstance(v, Ref) else str(v))
            for k, v in query.items()}


# -- helpers to write sequences -------------------------------------------------------


def get_path(value: Any, path: str) -> Any:
    """``a.b[0].c`` of a JSON value (KeyError/IndexError when absent)."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def body_is(check: Callable[[Any], bool]) -> Predicate:
    """A predicate on a successful answer's body."""
    return lambda answer: answer["code"] == 200 and bool(check(answer.get("body") or {}))


def status_is(*codes: int) -> Predicate:
    return lambda answer: answer["code"] in codes


def gone() -> Predicate:
    return status_is(404)


def items_empty() -> Predicate:
    return lambda answer: answer["code"] == 200 and not answer["body"].get("items")


def condition_true(type_: str) -> Predicate:
    def check(answer: Answer) -> bool:
        conditions = ((answer.get("body") or {}).get("status") or {}).get("conditions") or ()
        return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)
    return check


def keep(*paths: str) -> Project:
    """Compare only these dotted paths of the body (and the code)."""
    def project(answer: Answer) -> Answer:
        body = answer.get("body")
        picked: dict[str, Any] = {}
        for path in paths:
            try:
                picked[path] = get_path(body, path)
            except (KeyError, IndexError, TypeError):
                picked[path] = MISSING
        return {"code": answer["code"], "body": picked}
    return project


def keyed(body: Any, lists: Mapping[str, str]) -> Any:
    """``body`` with the lists at the given dotted paths (``[]`` for every element of a
    list on the way: ``groups[].versions``) turned into dicts keyed by each element's
    ``lists[path]`` field, so that an extra or missing element is one difference, not a
    shift of every later index."""
    out = copy.deepcopy(body)
    # the deepest lists first: the way down to them is still made of lists
    for path in sorted(lists, key=lambda p: -p.count(".")):
        _key_at(out, path.split("."), lists[path])
    return out


def _key_at(value: Any, parts: list[str], key: str) -> None:
    if not parts or not isinstance(value, dict):
        return
    head, rest = parts[0], parts[1:]
    name, every = head.removesuffix("[]"), head.endswith("[]")
    child = value.get(name)
    if not rest:
        if isinstance(child, list):
            value[name] = {str(item.get(key) or "") if isinstance(item, dict) else str(item):
                           item for item in child}
        return
    for item in (child if every and isinstance(child, list) else [child]):
        _key_at(item, rest, key)


def project_body(fn: Callable[[Any], Any]) -> Project:
    """A projection of the answer's body (the status code and media type are kept)."""
    def project(answer: Answer) -> Answer:
        return {**answer, "body": fn(answer.get("body"))}
    return project


# -- talking to one server ----------------------------------------------------------


class Client:
    """Blocking HTTP requests to one endpoint, as its administrator."""

    def __init__(self, endpoint: KubeEndpoint) -> None:
        self.endpoint = endpoint
        self._ssl = endpoint.ssl_context()

    def _request(self, method: str, path: str, body: Any, content_type: str,
                 accept: str) -> urllib.request.Request:
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.endpoint.token:
            headers["Authorization"] = f"Bearer {self.endpoint.token}"
        return urllib.request.Request(f"{self.endpoint.url}{path}", data=data,
                                      method=method, headers=headers)

    def call(self, method: str, path: str, body: Any = None, content_type: str = JSON,
             accept: str = JSON, timeout: float = 30.0) -> Answer:
        request = self._request(method, path, body, content_type, accept)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._ssl) as resp:
                code, headers, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            code, headers, payload = exc.code, exc.headers, exc.read()
        answer: Answer = {"code": code, "contentType": _media(headers.get("Content-Type")),
                          "body": _parse(payload)}
        warnings = headers.get_all("Warning") or []
        if warnings:
            answer["warnings"] = sorted(warnings)
        return answer

    def watch(self, path: str, accept: str = JSON, timeout: float = 30.0,
              opened: threading.Event | None = None) -> Answer:
        """A watch read to its end (the server ends it at ``timeoutSeconds``)."""
        request = self._request("GET", path, None, JSON, accept)
        events: list[Any] = []
        try:
            resp = urllib.request.urlopen(request, timeout=timeout, context=self._ssl)
        except urllib.error.HTTPError as exc:
            if opened is not None:
                opened.set()
            return {"code": exc.code, "contentType": _media(exc.headers.get("Content-Type")),
                    "body": _parse(exc.read())}
        with resp:
            if opened is not None:
                opened.set()
            code, ctype = resp.status, _media(resp.headers.get("Content-Type"))
            try:
                for line in resp:
                    if line.strip():
                        events.append(_parse(line))
            except (TimeoutError, ConnectionError) as exc:
                events.append({"type": "<client>", "object": f"stream broke: {exc!r}"})
        return {"code": code, "contentType": ctype, "body": events}


def _media(content_type: str | None) -> str:
    if not content_type:
        return MISSING
    parts = [p.strip() for p in content_type.split(";")]
    # a Table's media type parameters matter; charset does not
    return ";".join([parts[0].lower(), *(p for p in parts[1:] if not p.startswith("charset"))])


def _parse(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return {"<raw>": payload[:300].decode(errors="replace")}


# -- running a sequence on one server --------------------------------------------------


@attrs.define
class Run:
    """One server's answers to a sequence (``None`` for a step that did not run)."""

    kind: str
    namespace: str
    answers: list[Answer | None] = attrs.field(factory=list)
    error: str | None = None


def _label_index(steps: Sequence[AnyStep], label: str | int) -> int:
    if isinstance(label, int):
        return label
    for index, step in enumerate(steps):
        if step.label == label:
            return index
    raise KeyError(f"no step labelled {label!r}")


def _resolve(value: Any, steps: Sequence[AnyStep], answers: list[Answer | None],
             namespace: str) -> Any:
    if isinstance(value, Ref):
        answer = answers[_label_index(steps, value.step)]
        if answer is None:
            raise LookupError(f"step {value.step!r} has no answer")
        try:
            found = get_path(answer["body"], value.path)
        except (KeyError, IndexError, TypeError):
            found = ""
        return value.fmt.format(found)
    if isinstance(value, Derived):
        answer = answers[_label_index(steps, value.step)]
        if answer is None:
            raise LookupError(f"step {value.step!r} has no answer")
        return value.fn(copy.deepcopy(answer["body"]))
    if isinstance(value, dict):
        return {k: _resolve(v, steps, answers, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, steps, answers, namespace) for v in value]
    if isinstance(value, str):
        return value.replace("{ns}", namespace)
    return value


def _url(step: Step, steps: Sequence[AnyStep], answers: list[Answer | None],
         namespace: str) -> str:
    path = step.path.replace("{ns}", namespace)
    query = {k: str(_resolve(v, steps, answers, namespace)) for k, v in step.query.items()}
    if step.watch:
        query.setdefault("watch", "true")
        query.setdefault("timeoutSeconds", str(step.watch_seconds))
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def run_sequence(endpoint: KubeEndpoint, steps: Sequence[AnyStep], namespace: str) -> Run:
    """Every step in order on one server; an exception ends the run (kept in ``error``)."""
    client = Client(endpoint)
    run = Run(endpoint.kind, namespace, [None] * len(steps))
    background: dict[str, tuple[threading.Thread, list[Answer]]] = {}
    try:
        for index, step in enumerate(steps):
            if isinstance(step, Step) and step.only and step.only != endpoint.kind:
                run.answers[index] = {"code": 0, "body": None}
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
                run.answers[index] = {"code": 0, "body": None}
            elif isinstance(step, Join):
                thread, box = background.pop(step.watch)
                thread.join(120)
                run.answers[index] = box[0] if box else {"code": 0, "body": "<watch hung>"}
            elif step.watch and step.background:
                url = _url(step, steps, run.answers, namespace)
                thread, box = _start_watch(client, step, url)
                background[step.label] = (thread, box)
                run.answers[index] = {"code": 0, "body": None}
            elif step.watch:
                url = _url(step, steps, run.answers, namespace)
                run.answers[index] = client.watch(url, step.accept, step.watch_seconds + 60)
            else:
                run.answers[index] = _call(client, step, steps, run.answers, namespace)
    except Exception as exc:  # the report says which server and which step
        run.error = f"{type(exc).__name__}: {exc}"
    for thread, _ in background.values():
        thread.join(120)
    return run


def _start_watch(client: Client, step: Step, url: str) -> tuple[threading.Thread,
                                                                list[Answer]]:
    """A watch read in a thread of its own; its answer lands in the list."""
    box: list[Answer] = []
    opened = threading.Event()

    def read() -> None:
        box.append(client.watch(url, step.accept, step.watch_seconds + 60, opened))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    opened.wait(30)
    # the response head arrives before the server registered the watch on neither
    # server; a moment later it has on both
    time.sleep(0.3)
    return thread, box


def _call(client: Client, step: Step, steps: Sequence[AnyStep],
          answers: list[Answer | None], namespace: str) -> Answer:
    url = _url(step, steps, answers, namespace)
    body = _resolve(step.body, steps, answers, namespace)
    if step.until is None:
        return client.call(step.method, url, body, step.content_type, step.accept)
    deadline = time.monotonic() + step.timeout
    while True:
        answer = client.call(step.method, url, body, step.content_type, step.accept)
        if step.until(answer):
            return answer
        if time.monotonic() > deadline:
            answer["timedOut"] = True
            return answer
        time.sleep(step.poll_interval)


def run_both(fake: KubeEndpoint, real: KubeEndpoint, steps: Sequence[AnyStep],
             namespace: str) -> tuple[Run, Run]:
    """The sequence on both servers at once, each in a thread of its own."""
    runs: dict[str, Run] = {}

    def go(endpoint: KubeEndpoint) -> None:
        runs[endpoint.kind] = run_sequence(endpoint, steps, namespace)

    threads = [threading.Thread(target=go, args=(e,), daemon=True) for e in (fake, real)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs["fake"], runs["real"]


# -- normalising ----------------------------------------------------------------------

_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_UID_IN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
#: names the real server's admission makes up without a generateName
_MADE_UP = re.compile(r"\b(kube-api-access-)[a-z0-9]{5}\b")
_TOKEN_KEYS = frozenset({"token"})


def _walk_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict that looks like an object (has a ``metadata`` dict), depth first."""
    if isinstance(value, dict):
        if isinstance(value.get("metadata"), dict):
            yield value
        for child in value.values():
            yield from _walk_objects(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk_objects(child)


def _is_list(obj: dict[str, Any]) -> bool:
    """A list (or a Table of rows): its resourceVersion is the store's, not an object's."""
    return isinstance(obj.get("items"), list) or obj.get("kind") == "Table" or (
        "items" in obj and str(obj.get("kind", "")).endswith("List"))


def _rv_key(rv: str) -> tuple[int, int | str]:
    return (0, int(rv)) if rv.isdigit() else (1, rv)


class Normaliser:
    """Replaces, in one server's answers to one sequence, what the servers assign
    freely. Stateful: a resourceVersion becomes its relation to the previous version
    seen of the same object (``<rv:first>``, ``<rv:same>``, ``<rv:newer>``,
    ``<rv:older>``), so a server's extra write shows once, not in every later answer.
    Answers must be given in step order."""

    def __init__(self, answers: Sequence[Answer | None], namespace: str) -> None:
        self.namespace = namespace
        self.uids: dict[str, str] = {}
        self.generated: dict[str, str] = {}
        self._last_rv: dict[str, str] = {}
        seen: dict[str, int] = {}
        for answer in answers:
            if answer is None:
                continue
            for obj in _walk_objects(answer.get("body")):
                if _is_list(obj):
                    continue
                meta = obj["metadata"]
                uid, name = meta.get("uid"), meta.get("name")
                if isinstance(uid, str) and uid not in self.uids:
                    who = f"{obj.get('kind', '?')}/{name or '?'}"
                    seen[who] = seen.get(who, 0) + 1
                    again = f"#{seen[who]}" if seen[who] > 1 else ""
                    self.uids[uid] = f"<uid:{self.text(who)}{again}>"
                base = meta.get("generateName")
                if (isinstance(base, str) and base and isinstance(name, str)
                        and name.startswith(base) and name != base):
                    self.generated[name] = f"{base}<suffix>"

    def text(self, value: str) -> str:
        if value in self.uids:
            return self.uids[value]
        if _UID.match(value):
            return "<uid:unseen>"
        if _TIME.match(value):
            return "<time.micro>" if "." in value else "<time>"
        if value in self.generated:
            return self.generated[value]
        for name, placeholder in self.generated.items():
            if name in value:
                value = value.replace(name, placeholder)
        if self.namespace and self.namespace in value:
            value = value.replace(self.namespace, "<ns>")
        if "kube-api-access-" in value:
            value = _MADE_UP.sub(r"\1<suffix>", value)
        return value

    def key(self, key: str) -> str:
        """A map key: uids in it (managedFields' ``k:{"uid":...}``) and the namespace."""
        if "-" in key and _UID_IN.search(key):
            key = _UID_IN.sub(lambda m: self.uids.get(m.group(0), "<uid:unseen>"), key)
        if self.namespace and self.namespace in key:
            key = key.replace(self.namespace, "<ns>")
        return key

    def answer(self, answer: Answer) -> Answer:
        return {k: self._norm(v, ()) for k, v in answer.items()}

    def _rv(self, obj: dict[str, Any], rv: str) -> str:
        if not rv:
            return ""
        meta = obj.get("metadata") or {}
        key = meta.get("uid") or (f"{obj.get('kind')}/{meta.get('namespace')}/"
                                  f"{meta.get('name')}")
        last = self._last_rv.get(key)
        self._last_rv[key] = rv
        if last is None:
            return "<rv:first>"
        if last == rv:
            return "<rv:same>"
        return "<rv:newer>" if _rv_key(rv) > _rv_key(last) else "<rv:older>"

    def _norm(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            return self._norm_dict(value, path)
        if isinstance(value, list):
            return [self._norm(v, (*path, "[]")) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _norm_dict(self, value: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        is_object = isinstance(value.get("metadata"), dict)
        listing = is_object and _is_list(value)
        out: dict[str, Any] = {}
        for key, child in value.items():
            if key == "metadata" and is_object and isinstance(child, dict):
                out[key] = self._metadata(value, child, listing, path)
            elif key in ("clusterIP", "clusterIPs") and path[-1:] == ("spec",):
                out[key] = _cluster_ips(child)
            elif key in ("nodePort", "healthCheckNodePort") and isinstance(child, int):
                out[key] = "<node-port>"
            elif key in _TOKEN_KEYS and isinstance(child, str) and child:
                out[key] = "<token>"
            elif key == "serverAddress" and isinstance(child, str):
                out[key] = "<host:port>"  # each server's own port
            else:
                out[self.key(key)] = self._norm(child, (*path, key))
        return out

    def _metadata(self, obj: dict[str, Any], meta: dict[str, Any], listing: bool,
                  path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, child in meta.items():
            if key == "selfLink":
                continue  # the real server no longer sets it
            if key == "resourceVersion" and isinstance(child, str):
                out[key] = self._list_rv(obj, child) if listing else self._rv(obj, child)
            elif key == "continue" and child:
                out[key] = "<continue>"
            elif key == "managedFields" and isinstance(child, list):
                # keyed by manager, operation and subresource: the entries' order is the
                # server's bookkeeping, and a missing entry is then one difference
                out[key] = {_manager_key(e): self._norm(e, (*path, "metadata", key))
                            for e in child if isinstance(e, dict)}
            else:
                out[key] = self._norm(child, (*path, "metadata", key))
        return out

    @staticmethod
    def _list_rv(listing: dict[str, Any], rv: str) -> str:
        if not rv:
            return ""
        newest = max((_rv_key(i["metadata"]["resourceVersion"])
                      for i in listing.get("items") or listing.get("rows") or ()
                      if isinstance(i, dict) and isinstance(i.get("metadata"), dict)
                      and i["metadata"].get("resourceVersion")), default=None)
        # a list's version is the store's when it was read: at least its newest item's
        if newest is None or _rv_key(rv) >= newest:
            return "<list-rv>"
        return "<list-rv:older-than-an-item>"


def _manager_key(entry: dict[str, Any]) -> str:
    parts = [str(entry.get("manager", "")), str(entry.get("operation", ""))]
    if entry.get("subresource"):
        parts.append(str(entry["subresource"]))
    return "/".join(parts)


def _cluster_ips(value: Any) -> Any:
    if isinstance(value, list):
        return [_cluster_ips(v) for v in value]
    if isinstance(value, str) and value and value != "None":
        return "<cluster-ip>"
    return value


# -- comparing ------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _key(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def show(value: Any) -> str:
    """A value as the report prints it (cut at 160 characters)."""
    if isinstance(value, str):
        text = MISSING if value == MISSING else repr(value)
    else:
        text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


@attrs.frozen
class Difference:
    path: str
    fake: Any
    real: Any

    def __str__(self) -> str:
        return f"{self.path}: fake {show(self.fake)} real {show(self.real)}"


def compare(fake: Any, real: Any, path: str = "") -> list[Difference]:
    """Every path where the two values differ (a small structural walker)."""
    if isinstance(fake, dict) and isinstance(real, dict):
        found: list[Difference] = []
        for key in sorted(set(fake) | set(real), key=str):
            here = _key(path, str(key))
            if key not in fake:
                found.append(Difference(here, MISSING, real[key]))
            elif key not in real:
                found.append(Difference(here, fake[key], MISSING))
            else:
                found.extend(compare(fake[key], real[key], here))
        return found
    if isinstance(fake, list) and isinstance(real, list):
        found = []
        for index in range(max(len(fake), len(real))):
            here = f"{path}[{index}]"
            if index >= len(fake):
                found.append(Difference(here, MISSING, real[index]))
            elif index >= len(real):
                found.append(Difference(here, fake[index], MISSING))
            else:
                found.extend(compare(fake[index], real[index], here))
        return found
    if fake == real and type(fake) is type(real):
        return []
    return [Difference(path or "<answer>", fake, real)]


def compare_answers(fake: Answer, real: Answer) -> list[Difference]:
    """The HTTP status as ``(status)``, the media type as ``(content-type)``, then the
    body's paths (a watch's body is its list of events)."""
    found = []
    for key, shown in (("code", "(status)"), ("contentType", "(content-type)"),
                       ("timedOut", "(timed out)"), ("warnings", "(warnings)")):
        if fake.get(key, MISSING) != real.get(key, MISSING):
            found.append(Difference(shown, fake.get(key, MISSING), real.get(key, MISSING)))
    found.extend(compare(fake.get("body"), real.get("body")))
    return found


@attrs.frozen
class StepResult:
    index: int
    title: str
    compared: bool
    differences: tuple[Difference, ...]


def compare_runs(steps: Sequence[AnyStep], fake: Run, real: Run) -> list[StepResult]:
    """The normalised answers of both runs, step by step."""
    fake_norm = Normaliser(fake.answers, fake.namespace)
    real_norm = Normaliser(real.answers, real.namespace)
    results = []
    for index, step in enumerate(steps):
        raw_f, raw_r = fake.answers[index], real.answers[index]
        only = getattr(step, "only", None)
        if only:  # a wait on one server: reported only when it gave up
            waited = raw_f if only == "fake" else raw_r
            if waited is not None and waited.get("timedOut"):
                results.append(StepResult(index, step.describe(), True, (Difference(
                    f"(wait on {only} timed out)", "-", "-"),)))
            continue  # and not seen by the normaliser: both track the same answers
        # every other answer passes the normaliser, in order: it tracks resourceVersions
        a_f = fake_norm.answer(raw_f) if raw_f is not None else None
        a_r = real_norm.answer(raw_r) if raw_r is not None else None
        if not step.compare:
            continue
        if a_f is None or a_r is None:
            why = {"fake": fake.error, "real": real.error}
            results.append(StepResult(index, step.describe(), True, (Difference(
                "<not run>", why["fake"] or "ran", why["real"] or "ran"),)))
            continue
        if step.project is not None:
            a_f, a_r = step.project(a_f), step.project(a_r)
        results.append(StepResult(index, step.describe(), True, tuple(compare_answers(a_f,
                                                                                     a_r))))
    return results


# -- matching known differences ----------------------------------------------------------


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A path pattern: ``**`` anything, ``*`` within one key, ``[*]`` any index or
    bracketed key (``[3]``, ``["f:spec"]``); everything else literal."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern.startswith("[*]", i):
            out.append(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')
            i += 3
        elif pattern[i] == "*":
            out.append(r"[^.\[]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def glob_matches(pattern: str, text: str) -> bool:
    """``*`` matches anything (brackets are literal, unlike fnmatch: test ids have them)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text) is not None
