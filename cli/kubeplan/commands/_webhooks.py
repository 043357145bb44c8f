"""The webhooks ``kubeplan run`` serves beside the operators: the conversion webhook of a
versioned parent type (``OperatorDefinition(versions=...)``) and every operator's
admission webhooks (``validators=``, ``mutators=``), on one HTTPS port with the
certificate and key in ``--tls-cert-file`` / ``--tls-key-file`` (cert-manager's
``tls.crt`` / ``tls.key``), reloaded when they change."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from kubeplan.adapters.webhooks import Route, TlsFiles, WebhookServer, webhook_routes
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.versions import WEBHOOK_PORT

log = logging.getLogger("kubeplan.run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--webhook-port", type=int, default=WEBHOOK_PORT,
        help=f"serve the conversion and admission webhooks (HTTPS) on this port when the "
             f"operator has any (default: {WEBHOOK_PORT}; 0: any free port)",
    )
    parser.add_argument("--webhook-host", default="0.0.0.0",
                        help="address the webhook server binds (default: 0.0.0.0)")
    parser.add_argument("--tls-cert-file", help="the webhook's serving certificate (PEM)")
    parser.add_argument("--tls-key-file", help="the webhook's private key (PEM)")


def read_ca(path: str) -> str:
    """The PEM text of the CA in ``--ca-file`` (``ValueError`` if it holds none)."""
    text = Path(path).read_text(encoding="ascii", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InvalidArgument(f"--ca-file {path}: no PEM certificate in it")
    return text


def versioned(definitions: Sequence[OperatorDefinition]) -> OperatorDefinition | None:
    """The one definition of a process whose parent has several versions, if any."""
    found = [d for d in definitions if d.version_set is not None]
    return found[0] if found else None


def routes_of(definitions: Sequence[OperatorDefinition]) -> dict[str, Route]:
    """Every webhook route of the process: one conversion, every admission webhook."""
    definition = versioned(definitions)
    routes = webhook_routes(definition.version_set) if definition is not None else {}
    for d in definitions:
        routes.update(webhook_routes(None, d.admission))
    return routes


def problem(definitions: Sequence[OperatorDefinition], args: argparse.Namespace) -> str:
    """What is wrong with the webhook options for these definitions ('' when nothing)."""
    if bool(args.tls_cert_file) != bool(args.tls_key_file):
        return "give --tls-cert-file and --tls-key-file together"
    several = [d.config.name for d in definitions if d.version_set is not None]
    if len(several) > 1:
        return (f"operators {', '.join(several)} all have versioned parents: one process "
                "serves one operator's conversion webhook; run them in processes of their own")
    if args.embedded or args.tls_cert_file:
        return ""
    definition = versioned(definitions)
    if definition is not None:
        return (
            f"{definition.config.parent} has several versions: the API server calls the "
            "operator's conversion webhook over HTTPS, so give --tls-cert-file and "
            "--tls-key-file (e.g. the tls.crt and tls.key of a cert-manager Certificate)"
        )
    admitting = [d.config.name for d in definitions if d.admission]
    if admitting:
        return (
            f"operator {admitting[0]} has admission webhooks: the API server calls them over "
            "HTTPS, so give --tls-cert-file and --tls-key-file (e.g. the tls.crt and tls.key "
            "of a cert-manager Certificate)"
        )
    return ""


@contextlib.asynccontextmanager
async def serving(
    definitions: Sequence[OperatorDefinition], args: argparse.Namespace
) -> AsyncIterator[WebhookServer | None]:
    """The webhook server, running for the block (``None`` when there is nothing to serve)."""
    routes = routes_of(definitions)
    if not routes or not args.tls_cert_file:
        yield None
        return
    server = WebhookServer(routes, tls=TlsFiles(args.tls_cert_file, args.tls_key_file),
                           host=args.webhook_host, port=args.webhook_port)
    port = await server.start()
    log.info("webhooks %s on https://%s:%d", ", ".join(routes), args.webhook_host, port)
    try:
        yield server
    finally:
        await server.stop()
