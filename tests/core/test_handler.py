"""The handler protocol, and the response types a handler builds."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from kubeplan.core.handler import Handler, HandlerInfo
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse


def plain_sync(request: SyncRequest) -> SyncResponse:
    return SyncResponse()


async def async_sync(request: SyncRequest) -> SyncResponse:
    return SyncResponse()


class WithFinalize:
    def sync(self, request: SyncRequest) -> SyncResponse:
        return SyncResponse()

    async def finalize(self, request: SyncRequest) -> FinalizeResponse:
        return FinalizeResponse(finalized=True)


class SyncOnly:
    async def sync(self, request: SyncRequest) -> SyncResponse:
        return SyncResponse()


class AsyncCallable:
    async def __call__(self, request: SyncRequest) -> SyncResponse:
        return SyncResponse()


class TestHandlerInfo:
    def test_function(self) -> None:
        info = HandlerInfo.of(plain_sync)
        assert info.sync is plain_sync
        assert not info.has_finalize and not info.sync_is_async
        assert info.name == "plain_sync"

    def test_async_function(self) -> None:
        assert HandlerInfo.of(async_sync).sync_is_async
        assert HandlerInfo.of(functools.partial(async_sync)).sync_is_async
        assert HandlerInfo.of(AsyncCallable()).sync_is_async

    def test_object_with_finalize(self) -> None:
        handler = WithFinalize()
        info = HandlerInfo.of(handler)
        assert info.sync == handler.sync and info.finalize == handler.finalize
        assert info.has_finalize
        assert not info.sync_is_async and info.finalize_is_async
        assert isinstance(handler, Handler)

    def test_object_without_finalize(self) -> None:
        info = HandlerInfo.of(SyncOnly())
        assert info.sync_is_async and not info.has_finalize and info.finalize is None

    def test_info_is_passed_through(self) -> None:
        info = HandlerInfo.of(plain_sync)
        assert HandlerInfo.of(info) is info

    @pytest.mark.parametrize("handler", [42, "sync", None])
    def test_not_a_handler(self, handler: Any) -> None:
        with pytest.raises(TypeError, match="a handler is a function sync"):
            HandlerInfo.of(handler)

    def test_a_class_instead_of_an_instance(self) -> None:
        with pytest.raises(TypeError, match=r"is a class: pass an instance \(WithFinalize\(\)\)"):
            HandlerInfo.of(WithFinalize)

    def test_non_callable_methods(self) -> None:
        class Broken:
            sync = 3

        with pytest.raises(TypeError, match="sync is not callable"):
            HandlerInfo.of(Broken())

        class BadFinalize:
            def sync(self, request: SyncRequest) -> SyncResponse:
                return SyncResponse()

            finalize = "later"

        with pytest.raises(TypeError, match="finalize is not callable"):
            HandlerInfo.of(BadFinalize())


class TestResponses:
    def test_defaults(self) -> None:
        assert SyncResponse() == SyncResponse((), None, None)
        assert FinalizeResponse() == FinalizeResponse(None, False, (), None)

    def test_children_become_a_tuple(self) -> None:
        assert SyncResponse([{"a": 1}]).children == ({"a": 1},)
        assert SyncResponse(iter([{"a": 1}])).children == ({"a": 1},)
        assert SyncResponse(None).children == ()  # type: ignore[arg-type]
        assert FinalizeResponse(children=[{"a": 1}]).children == ({"a": 1},)

    def test_a_dict_is_kept_for_validation_to_refuse(self) -> None:
        assert SyncResponse({"kind": "Pod"}).children == {"kind": "Pod"}  # type: ignore[arg-type]
