"""Logs a team can ship: what the runtime is doing (parent, sync id, action) attached to every
log record, and a formatter that writes one JSON object per line.

The runtime sets the context around each sync (``parent``, ``sync_id``, ``operator``) and
around each write (``action``, ``child``, ``reason``) with ``log_context``; it lives in a
``contextvars.ContextVar``, so it follows the sync into the executor's tasks and into the
threads synchronous handlers run in, and a handler's own ``logging`` calls carry it too.

``JsonFormatter`` writes ``time`` (UTC, RFC 3339 with milliseconds), ``level``, ``logger``,
``message``, the context fields that are set, any of those fields given with ``extra=``
(they win over the context), and ``exception`` (the traceback) when there is one.
``configure_logging(format="json")`` installs it on the root logger, as ``kubeplan run
--log-format json`` does.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TextIO

import orjson

from kubeplan.core.errors import InvalidArgument

__all__ = [
    "CONTEXT_FIELDS",
    "TEXT_FORMAT",
    "JsonFormatter",
    "LogFormat",
    "configure_logging",
    "current_context",
    "log_context",
]

#: the fields the runtime sets, in the order a JSON line carries them
CONTEXT_FIELDS = ("operator", "parent", "sync_id", "action", "child", "reason")

#: the text format of ``kubeplan run`` (the default)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

LogFormat = Literal["text", "json"]

#: the name of the handler ``configure_logging`` installs (a second call replaces it)
_HANDLER_NAME = "kubeplan"

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "kubeplan_log_context", default=None)


def current_context() -> Mapping[str, str]:
    """The context fields set where this is called (read-only)."""
    return _context.get() or _EMPTY


class log_context:  # lower case: used like a function, ``with log_context(parent=...)``
    """Add ``fields`` (None: left out) to every record logged inside the ``with`` block, on
    top of the fields already set; the outer ones are back after it."""

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: str | None) -> None:
        self._fields = fields
        self._token: contextvars.Token[Mapping[str, str] | None] | None = None

    def __enter__(self) -> None:
        merged = dict(_context.get() or _EMPTY)
        for name, value in self._fields.items():
            if value is not None:
                merged[name] = value
        self._token = _context.set(MappingProxyType(merged))

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _context.reset(self._token)
            self._token = None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_context()
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name, context.get(name))
            if value is not None:
                out[name] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # orjson never writes a raw newline inside a string: one record, one line
        return orjson.dumps(out, default=str).decode()


def configure_logging(format: LogFormat = "text", *, level: int = logging.INFO,
                      stream: TextIO | None = None, force: bool = False,
                      ) -> logging.Handler | None:
    """Log to ``stream`` (stderr) in ``format`` from ``level`` on: a handler on the root
    logger, replacing the one an earlier call installed. Like ``logging.basicConfig``, it
    does nothing (None) when the root logger has handlers of someone else's (a program
    embedding the command, pytest), unless ``force``; returns the handler."""
    if format not in ("text", "json"):
        raise InvalidArgument(f"log format must be 'text' or 'json', not {format!r}")
    root = logging.getLogger()
    if not force and any(h.get_name() != _HANDLER_NAME for h in root.handlers):
        return None
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name(_HANDLER_NAME)
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
