"""Fault injection hooks and bad input: each gets the right Status, the server keeps serving."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from apiserver_harness import CM, DEPLOY, START, call, cm, collect, deployment, drain, new_server

from kubeplan.testkit.apiserver import Fault
from kubeplan.testkit.vtime import LoopClock


async def test_error_fault_for_next_n_matching_requests() -> None:
    server = new_server()
    server.faults.add(
        Fault.error(500, message="boom", verb="create", resource="configmaps", count=2)
    )
    first = await call(server, "POST", CM, cm("a"))
    assert first.status == 500 and first.body["message"] == "boom"
    assert first.body["reason"] == "InternalError"
    assert (await call(server, "GET", CM)).status == 200  # other verbs untouched
    assert (await call(server, "POST", CM, cm("a"))).status == 500
    assert (await call(server, "POST", CM, cm("a"))).status == 201  # expired
    assert server.faults.active == []


async def test_the_request_log_tells_an_injected_answer_from_the_servers_own() -> None:
    server = new_server()
    server.faults.add(Fault.error(422, message="planted", verb="create", count=1))
    await call(server, "POST", CM, cm("a"))  # the fault answers
    await call(server, "POST", CM, cm("B"))  # the server refuses the name itself
    await call(server, "POST", CM, cm("b"))  # accepted
    injected, refused, created = server.requests[-3:]
    assert (injected.status, injected.injected, injected.message) == (422, True, "planted")
    assert (refused.status, refused.injected) == (422, False)
    assert 'ConfigMap "B" is invalid: metadata.name' in refused.message
    assert (created.status, created.injected, created.message) == (201, False, "")


async def test_too_many_requests_carries_retry_after() -> None:
    server = new_server()
    server.faults.add(Fault.too_many_requests(retry_after=7, name="a"))
    response = await call(server, "GET", f"{CM}/a")
    assert response.status == 429
    assert response.headers["Retry-After"] == "7"
    assert response.body["details"]["retryAfterSeconds"] == 7


async def test_latency_uses_the_clock() -> None:
    server = new_server()
    server.faults.add(Fault.latency(3.0, verb="list"))
    task = asyncio.ensure_future(call(server, "GET", CM))
    await asyncio.sleep(2.99)
    assert not task.done()  # held for the 3 virtual seconds of latency ...
    await asyncio.sleep(0.02)
    assert task.done()  # ... and answered right after them
    assert (await task).status == 200


async def test_latency_follows_time_stepped_by_hand() -> None:
    clock = LoopClock(epoch=START)
    server = new_server(clock=clock)
    server.faults.add(Fault.latency(3.0, verb="list"))
    task = asyncio.ensure_future(call(server, "GET", CM))
    await asyncio.sleep(0)
    clock.advance(2.5)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    clock.set(START + timedelta(seconds=3))
    assert (await task).status == 200
    assert clock.now() == START + timedelta(seconds=3)


async def test_watch_drop_and_stall() -> None:
    server = new_server()
    for name in ("a", "b", "c"):
        await call(server, "POST", CM, cm(name))
    server.faults.add(Fault.watch_drop(after_events=2))
    dropped = await call(server, "GET", CM, query={"watch": "1"})
    assert len(await drain(dropped.stream)) == 2
    server.faults.add(Fault.watch_stall(after_events=1))
    stalled = await call(server, "GET", CM, query={"watch": "1"})
    assert len(await collect(stalled.stream, 1)) == 1
    await call(server, "POST", CM, cm("d"))
    nxt = asyncio.ensure_future(stalled.stream.__anext__())
    await asyncio.sleep(3600)
    assert not nxt.done()  # open but silent, for a virtual hour
    nxt.cancel()


async def test_malformed_json_and_yaml() -> None:
    server = new_server()
    bad_json = await call(server, "POST", CM, raw=b"{not json", content_type="application/json")
    assert bad_json.status == 400 and bad_json.body["reason"] == "BadRequest"
    bad_yaml = await call(server, "POST", CM, raw=b"a: [b", content_type="application/yaml")
    assert bad_yaml.status == 400
    array = await call(server, "POST", CM, raw=b"[1,2]", content_type="application/json")
    assert array.status == 400
    wrong_meta = await call(server, "POST", CM, {"metadata": "x"})
    assert wrong_meta.status == 400
    wrong_labels = await call(server, "POST", CM, cm("a", labels={"a": 1}))
    assert wrong_labels.status == 400
    good_yaml = await call(
        server,
        "POST",
        CM,
        raw=b"metadata:\n  name: yaml-made\ndata:\n  k: v\n",
        content_type="application/yaml",
    )
    assert good_yaml.status == 201


async def test_wrong_content_type_and_wrong_kind() -> None:
    server = new_server()
    response = await call(server, "POST", CM, raw=b"{}", content_type="text/plain")
    assert response.status == 415 and response.body["reason"] == "UnsupportedMediaType"
    wrong_kind = await call(
        server, "POST", CM, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}
    )
    assert wrong_kind.status == 400


async def test_unknown_paths_and_methods() -> None:
    server = new_server()
    for path in (
        "/api/v1/namespaces/default/widgets",
        "/apis/nope/v1/things",
        "/nonsense",
        "/api/v1/namespaces/default/configmaps/a/status",
        "/api/v1/configmaps/a",
    ):
        response = await call(server, "GET", path)
        assert response.status == 404, path
        assert response.body["message"] == "the server could not find the requested resource"
    assert (await call(server, "PUT", CM, cm("a"))).status == 405
    assert (await call(server, "POST", f"{CM}/a", cm("a"))).status == 405


async def test_bodies_over_the_limits() -> None:
    server = new_server()
    huge = await call(
        server, "POST", CM, raw=b"x" * (3 * 1024 * 1024 + 1), content_type="application/json"
    )
    assert huge.status == 413
    assert huge.body["message"] == "Request entity too large: limit is 3145728"
    big_data = cm("big", {"k": "x" * (1024 * 1024 + 10)})
    too_much_data = await call(server, "POST", CM, big_data)
    assert too_much_data.status == 422
    assert "Too long: must have at most 1048576 bytes" in too_much_data.body["message"]
    # annotations are capped at 256 KiB (422): the object's bulk is elsewhere
    big_obj = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa"},
        "secrets": [{"name": f"s{i}-" + "x" * 80} for i in range(20_000)],
    }
    too_big = await call(server, "POST", "/api/v1/namespaces/default/serviceaccounts", big_obj)
    assert too_big.status == 413
    assert (await call(server, "POST", CM, cm("ok"))).status == 201  # still serving


async def test_unexpected_exception_is_500_and_store_stays_consistent(monkeypatch) -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    rv = server.resource_version

    def explode(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(server.writer, "_check_size", explode)
    response = await call(server, "POST", CM, cm("b"))
    assert response.status == 500 and response.body["reason"] == "InternalError"
    assert server.resource_version == rv
    monkeypatch.undo()
    assert (await call(server, "GET", f"{CM}/b")).status == 404
    assert (await call(server, "POST", CM, cm("b"))).status == 201


async def test_labels_validation_is_422() -> None:
    server = new_server()
    response = await call(server, "POST", CM, cm("a", labels={"bad key!": "v"}))
    assert response.status == 422
    assert response.body["details"]["causes"][0]["field"] == "metadata.labels"
    # ValidateLabels names the labels, not the key, for a bad value too (a selector's
    # requirement is the one that names the key)
    value = await call(server, "POST", CM, cm("a", labels={"ok": "bad value!"}))
    assert value.status == 422
    [cause] = value.body["details"]["causes"]
    assert cause["field"] == "metadata.labels"
    assert cause["message"].startswith('Invalid value: "bad value!": ')
    template = deployment("d")
    template["spec"]["template"]["metadata"]["labels"]["x"] = "no good"
    refused = await call(server, "POST", DEPLOY, template)
    assert refused.status == 422
    fields = {c["field"] for c in refused.body["details"]["causes"]}
    assert "spec.template.labels" in fields  # ValidatePodTemplateSpec: fldPath.Child("labels")
