"""Print the CustomResourceDefinition of an operator's parent type.

The schema is derived from the operator's attrs spec and status classes
(OperatorDefinition.spec_class / status_class): types, required fields, defaults,
enums, nested classes, lists, maps and descriptions; the status subresource is on.
An explicit OperatorDefinition.crd is printed as given.

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
import sys

from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.commands._output import FORMATS, render
from kubeplan.core.crd import SchemaError, crd_of

HELP = "print the CRD derived from an operator's spec and status classes"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE:ATTR", help="the OperatorDefinition to read")
    parser.add_argument(
        "-o", "--output", choices=FORMATS, default="yaml", help="output format (default: yaml)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        definition = load_definition(args.target)
        crd = crd_of(definition)
    except (LoadError, SchemaError, ValueError) as exc:
        print(f"kubeplan crd: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render([crd], args.output))
    return 0
