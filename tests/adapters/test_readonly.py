"""``ReadOnlyClient``: reads reach the server, every write verb is refused before it is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubeplan.adapters.protocol import ApiClient
from kubeplan.adapters.readonly import ReadOnlyClient, WriteRefused
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver import FakeApiServer

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1"}}

Write = Callable[[ApiClient, dict[str, Any]], Awaitable[Any]]

#: every write method of the ApiClient protocol, with the words the refusal uses
WRITES: dict[str, tuple[Write, str]] = {
    "create": (lambda c, o: c.create(core_v1.ConfigMap, o), "create v1/ConfigMap default/settings"),
    "create-dry-run": (lambda c, o: c.create(core_v1.ConfigMap, o, dry_run=True),
                       "create v1/ConfigMap default/settings"),
    "replace": (lambda c, o: c.replace(core_v1.ConfigMap, o),
                "replace v1/ConfigMap default/settings"),
    "apply": (lambda c, o: c.apply(core_v1.ConfigMap, o, field_manager="me"),
              "apply v1/ConfigMap default/settings"),
    "patch": (lambda c, o: c.patch(core_v1.ConfigMap, "settings", {"data": {"a": "2"}},
                                   namespace="default"),
              "patch v1/ConfigMap default/settings"),
    "patch-status": (lambda c, o: c.patch(core_v1.ConfigMap, "settings", {}, namespace="default",
                                          subresource="status"),
                     "patch v1/ConfigMap default/settings"),
    "replace_status": (lambda c, o: c.replace_status(core_v1.ConfigMap, o),
                       "replace the status of v1/ConfigMap default/settings"),
    "delete": (lambda c, o: c.delete(core_v1.ConfigMap, "settings", "default"),
               "delete v1/ConfigMap default/settings"),
}


def test_every_write_method_of_the_protocol_is_covered() -> None:
    writes = {"create", "replace", "apply", "patch", "replace_status", "delete"}
    reads = {"get", "list", "watch", "close"}
    protocol = {name for name in vars(ApiClient) if not name.startswith("_")}
    assert protocol == writes | reads  # a new protocol method must be sorted into one
    assert {name.split("-")[0] for name in WRITES} == writes


@pytest.mark.parametrize("verb", sorted(WRITES))
async def test_a_write_is_refused_and_never_reaches_the_server(verb: str) -> None:
    write, words = WRITES[verb]
    async with FakeApiServer() as server:
        stored = await server.client().create(core_v1.ConfigMap, dict(CONFIG_MAP))
        before = (len(server.requests), server.resource_version)
        client = ReadOnlyClient(server.client(), purpose="kubeplan plan")
        with pytest.raises(WriteRefused) as caught:
            await write(client, dict(stored))
        assert (len(server.requests), server.resource_version) == before  # nothing sent
        assert str(caught.value) == (f"kubeplan plan is read-only: refused to {words} "
                                     "(nothing was sent to the API server)")
        live = await server.client().get(core_v1.ConfigMap, "settings", "default")
        assert live["data"] == {"a": "1"}


async def test_reads_pass_through() -> None:
    async with FakeApiServer() as server:
        await server.client().create(core_v1.ConfigMap, dict(CONFIG_MAP))
        client = ReadOnlyClient(server.client())
        got = await client.get(core_v1.ConfigMap, "settings", "default")
        listed = await client.list(core_v1.ConfigMap, "default", label_selector="", limit=10)
        assert got["data"] == {"a": "1"}
        assert [i["metadata"]["name"] for i in listed["items"]] == ["settings"]
        events = client.watch(core_v1.ConfigMap, "default", resource_version="0",
                              timeout_seconds=1)
        first = await anext(aiter(events))
        assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "settings"
        await client.close()
        assert {r.method for r in server.requests[1:]} == {"GET"}


def test_the_lower_level_request_methods_are_not_reachable() -> None:
    class Inner:
        async def _call(self, *args: Any) -> None:  # a raw request method some clients have
            raise AssertionError("reached")

    client = ReadOnlyClient(Inner())  # type: ignore[arg-type]
    assert not hasattr(client, "_call")
