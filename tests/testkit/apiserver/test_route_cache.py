"""Parsed routes are remembered per registry, and forgotten whenever the served set
changes: a cached route never outlives the resource it names."""

from __future__ import annotations

import pytest
from apiserver_harness import CRDS, WIDGETS, call, crd, install_crd, new_server, widget

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.dispatch import parse_route
from kubeplan.testkit.apiserver.registry import Registry


async def test_a_route_is_parsed_once_then_remembered() -> None:
    server = new_server()
    path = "/api/v1/namespaces/default/configmaps/x"
    first = parse_route(server.registry, "GET", path, {})
    assert parse_route(server.registry, "GET", path, {}) is first
    assert first.verb == "get" and first.target.name == "x"
    # the watch parameter is part of what a route depends on
    collection = "/api/v1/namespaces/default/configmaps"
    assert parse_route(server.registry, "GET", collection, {}).verb == "list"
    assert parse_route(server.registry, "GET", collection, {"watch": "true"}).verb == "watch"
    assert parse_route(server.registry, "GET", collection, {"watch": "0"}).verb == "list"


async def test_refusals_are_raised_every_time() -> None:
    server = new_server()
    for _ in range(2):
        with pytest.raises(status.StatusError):
            parse_route(server.registry, "GET", "/api/v1/namespaces/default/nothings", {})
        with pytest.raises(status.StatusError):
            parse_route(server.registry, "GET", "/api/v1/namespaces/default/configmaps/..", {})


async def test_routes_follow_the_served_set() -> None:
    server = new_server()
    assert (await call(server, "GET", WIDGETS)).status == 404
    await install_crd(server)
    assert (await call(server, "GET", WIDGETS)).status == 200  # the 404 was not kept
    assert (await call(server, "POST", WIDGETS, widget("w1"))).status == 201
    assert (await call(server, "DELETE", f"{CRDS}/widgets.example.com")).status == 200
    await server.settle()
    assert (await call(server, "GET", WIDGETS)).status == 404


def test_a_route_is_gone_before_the_drop_listeners_run() -> None:
    registry = Registry()
    registry.register_crd(crd())
    parse_route(registry, "GET", WIDGETS, {})  # kept, at this generation
    seen: list[str] = []

    def on_drop(_: object) -> None:  # a listener serving while the resources go away
        with pytest.raises(status.StatusError):
            parse_route(registry, "GET", WIDGETS, {})
        seen.append("asked")

    registry.on_drop.append(on_drop)
    registry.unregister_crd("widgets.example.com")
    assert seen == ["asked"]
    with pytest.raises(status.StatusError):
        parse_route(registry, "GET", WIDGETS, {})
