"""Print the CustomResourceDefinition of an operator's parent type.

The schema is derived from the operator's attrs spec and status classes
(OperatorDefinition.spec_class / status_class): types, required fields, defaults,
enums, nested classes, lists, maps and descriptions; the status subresource is on.
An explicit OperatorDefinition.crd is printed as given. A parent type with several
versions gets every version and `conversion: Webhook` calling the Service
`kubeplan manifests` writes, or --webhook-url (with --ca-file, the caBundle).

MODULE:ATTR names the OperatorDefinition: a dotted module (my_operator.main:operator,
found from the current directory or PYTHONPATH) or a file (ops/widgets.py:operator).

Examples:
  kubeplan crd my_operator:operator | kubectl apply -f -
  kubeplan crd ops/widgets.py:operator -o json

Exit codes: 0 printed; 1 the target or its classes have a problem (explained on
stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Any

from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.commands._output import FORMATS, render
from kubeplan.commands._webhooks import read_ca
from kubeplan.core.crd import SchemaError, crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.versions import service_client_config, webhook_service_name

HELP = "print the CRD derived from an operator's spec and status classes"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE:ATTR", help="the OperatorDefinition to read")
    parser.add_argument(
        "--webhook-url", metavar="URL",
        help="a parent type with several versions: call the conversion webhook at this "
             "https URL (e.g. an operator run outside the cluster) instead of the Service "
             "`kubeplan manifests` writes",
    )
    parser.add_argument("--ca-file", metavar="PEM",
                        help="the CA that signed the webhook's certificate (the caBundle)")
    parser.add_argument(
        "-o", "--output", choices=FORMATS, default="yaml", help="output format (default: yaml)"
    )


def _client_config(definition: OperatorDefinition,
                   args: argparse.Namespace) -> dict[str, Any] | None:
    if not (args.webhook_url or args.ca_file):
        return None
    if definition.version_set is None:
        raise InvalidArgument("--webhook-url and --ca-file are for a parent type with several "
                         "versions (OperatorDefinition(versions=...))")
    bundle = (base64.b64encode(read_ca(args.ca_file).encode()).decode("ascii")
              if args.ca_file else None)
    if args.webhook_url:
        if not args.webhook_url.startswith("https://"):
            raise InvalidArgument(f"--webhook-url {args.webhook_url}: the API server calls "
                             "webhooks over https only")
        config: dict[str, Any] = {"url": args.webhook_url}
    else:
        config = service_client_config(webhook_service_name(definition.config.name))
    if bundle:
        config["caBundle"] = bundle
    return config


def run(args: argparse.Namespace) -> int:
    try:
        definition = load_definition(args.target)
        crd = crd_of(definition, webhook_client_config=_client_config(definition, args))
    except (LoadError, SchemaError, ValueError, OSError) as exc:
        print(f"kubeplan crd: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render([crd], args.output))
    return 0
