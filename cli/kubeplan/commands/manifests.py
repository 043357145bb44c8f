"""Print everything deploying an operator needs, ready for `kubectl apply -f -`.

In apply order: the CRD, the Namespace, a ServiceAccount, least-privilege RBAC derived
from the operator's declared types (exactly the verbs kubeplan uses; a Role per
namespace when the operator is restricted to namespaces of namespaced types, else a
ClusterRole; a Role for leader-election Leases in the operator's namespace when
--replicas > 1), the binding(s), and a Deployment that runs
`kubeplan run MODULE:ATTR` as a non-root user on a read-only root filesystem, with
/healthz and /readyz probes on port 8080. A parent type with several versions adds
its conversion webhook: a Service, the CRD's clientConfig naming it, and the serving
certificate from cert-manager (an Issuer and a Certificate, injected into the CRD by
cert-manager's CA injector) or, with --ca-file, from a Secret <name>-webhook-tls you
create (kubectl create secret tls) signed by that CA. Admission webhooks (validators=,
mutators=) add a Validating/MutatingWebhookConfiguration calling the same Service at
each webhook's path, with the same certificate.

MODULE:ATTR names the OperatorDefinition (a dotted module or a file path, as for
`kubeplan crd`) and is also what the container runs, so give it as the image sees it.

Several MODULE:ATTR deploy several operators in one Deployment (`kubeplan run A B`):
every CRD, one ServiceAccount (named by --name, default the operators' names joined by
'-'), each operator's own RBAC bound to it (roles NAME-OPERATOR), and one Deployment
running them all.
Build the image with the Dockerfile at the repository root (see deploy/README.md).

Examples:
  kubeplan manifests my_operator:operator --image registry.example/widgets:1.0 \\
      | kubectl apply -f -
  kubeplan manifests my_operator:operator --namespace ops --replicas 2 -o json

Exit codes: 0 printed; 1 the target or the options have a problem (explained on
stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from kubeplan.commands._loading import LoadError, load_definition
from kubeplan.commands._output import FORMATS, render
from kubeplan.commands._webhooks import read_ca
from kubeplan.core.crd import SchemaError
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.manifests import (
    DEFAULT_IMAGE,
    DEFAULT_NAMESPACE,
    group_manifests_for,
    manifests_for,
)

HELP = "print the CRD, RBAC and Deployment that run an operator in a cluster"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", metavar="MODULE:ATTR", nargs="+",
                        help="the OperatorDefinition to deploy (several: in one Deployment)")
    parser.add_argument("--name", default=None,
                        help="with several operators: the Deployment's and ServiceAccount's "
                             "name (default: the operators' names joined by '-')")
    parser.add_argument(
        "--image", default=DEFAULT_IMAGE, help=f"operator image (default: {DEFAULT_IMAGE})"
    )
    parser.add_argument(
        "--namespace", default=DEFAULT_NAMESPACE,
        help=f"namespace the operator runs in (default: {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--replicas", type=_positive_int, default=1,
        help="operator pods; more than 1 turns on leader election (default: 1)",
    )
    parser.add_argument(
        "--no-namespace", action="store_true",
        help="leave the Namespace out (when it is created elsewhere)",
    )
    parser.add_argument(
        "--ca-file", metavar="PEM",
        help="a parent type with several versions: the CA that signed the webhook's "
             "certificate (the Secret <name>-webhook-tls, made by you), written into the "
             "CRD's caBundle; without it, cert-manager makes and injects the certificate",
    )
    parser.add_argument(
        "-o", "--output", choices=FORMATS, default="yaml",
        help="yaml: a multi-document stream; json: a v1 List (default: yaml)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        definitions = [load_definition(target) for target in args.targets]
        ca = read_ca(args.ca_file) if args.ca_file else None
        if len(definitions) == 1 and args.name is None:
            objects = manifests_for(
                definitions[0],
                target=args.targets[0],
                namespace=args.namespace,
                image=args.image,
                replicas=args.replicas,
                include_namespace=not args.no_namespace,
                webhook_ca=ca,
            )
        else:
            if any(d.version_set is not None for d in definitions):
                raise InvalidArgument("a versioned parent's conversion webhook is deployed "
                                      "with its operator alone: give one MODULE:ATTR")
            objects = group_manifests_for(
                definitions,
                targets=args.targets,
                name=args.name,
                namespace=args.namespace,
                image=args.image,
                replicas=args.replicas,
                include_namespace=not args.no_namespace,
            )
    except (LoadError, SchemaError, ValueError, OSError) as exc:
        print(f"kubeplan manifests: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render(objects, args.output))
    return 0
