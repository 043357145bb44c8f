"""OpenTelemetry spans around a sync, its plan and each write, when the optional
``opentelemetry-api`` is installed (``pip install 'kubeplan[otel]'``); a no-op otherwise.

Spans: ``kubeplan.sync`` (attributes ``kubeplan.operator``, ``kubeplan.parent``,
``kubeplan.sync_id``, and once known ``kubeplan.outcome``), ``kubeplan.plan``
(``kubeplan.actions``, ``kubeplan.error``) and ``kubeplan.write`` (``kubeplan.action``,
``kubeplan.child``, ``kubeplan.reason``, ``kubeplan.result``), each a child of the one
around it, so a trace shows why each write happened. Which tracer provider receives them
(an exporter, sampling) is the application's choice, made through the OpenTelemetry API
(``trace.set_tracer_provider``); while none is set no span is made at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["Span", "span", "tracing_enabled"]

try:  # optional: kubeplan[otel] (the ignores are for type checks where it is absent)
    from opentelemetry import trace as _otel_trace  # type: ignore[import-not-found,attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _otel_trace = None  # type: ignore[assignment,unused-ignore]


#: the tracer of the provider last seen (one tracer per provider, made once)
_last: tuple[Any, Any] = (None, None)


def _tracer() -> Any:
    """The tracer to use now: None without OpenTelemetry or while no tracer provider is set
    (OpenTelemetry's default would drop the spans; not making them costs nothing)."""
    global _last
    if _otel_trace is None:
        return None
    provider = _otel_trace.get_tracer_provider()
    if isinstance(provider, _otel_trace.ProxyTracerProvider):
        return None
    if _last[0] is not provider:
        _last = (provider, provider.get_tracer("kubeplan"))
    return _last[1]


class Span(Protocol):
    """What the runtime does with a span: set attributes as it learns them."""

    def set_attribute(self, key: str, value: Any) -> Any: ...


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        return None


_NO_SPAN = _NoSpan()


def tracing_enabled() -> bool:
    """Whether ``opentelemetry-api`` is installed (spans are then made)."""
    return _otel_trace is not None


@contextlib.contextmanager
def span(name: str, **attributes: str | int | float | bool | None) -> Iterator[Span]:
    """A span named ``name`` around the block, as a child of the current one, with the
    ``attributes`` that are not None (each prefixed ``kubeplan.``); a no-op without
    OpenTelemetry. An exception leaving the block is recorded on the span."""
    tracer = _tracer()
    if tracer is None:
        yield _NO_SPAN
        return
    with tracer.start_as_current_span(name) as current:
        if current.is_recording():  # no provider set: a non-recording span, nothing to add
            for key, value in attributes.items():
                if value is not None:
                    current.set_attribute(f"kubeplan.{key}", value)
        yield current
