"""admission: a ``Site`` publishes its domain and replica count in a ConfigMap, and the
operator's own admission webhooks keep bad Sites out of the cluster.

- ``check_site`` (a validator): the domain must be under ``example.com``, at most
  ``MAX_REPLICAS`` replicas, and the domain cannot change once the Site exists. Denied
  requests never reach storage; ``kubectl apply`` prints the reason.
- ``default_tier`` (a mutator, on create): a Site without a ``tier`` gets ``web``; kubeplan
  turns the returned spec into the JSON patch the API server applies.

Try it::

    kubeplan run examples/admission/admission_operator.py:operator --embedded
    kubectl apply -f examples/admission/site.yaml        # converges
    kubectl apply -f examples/admission/bad-site.yaml    # denied by check_site
"""

from __future__ import annotations

import attrs

from kubeplan.core.admission import (
    AdmissionRequest,
    Allowed,
    Denied,
    FieldError,
    Mutator,
)
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

Site = K8sType("example.kubeplan.dev/v1", "Site", "sites")
DOMAIN = "example.com"
MAX_REPLICAS = 5


@attrs.frozen
class SiteSpec:
    """A web site: its domain, how many replicas serve it, and its tier."""

    domain: str = attrs.field(metadata={"description": f"a host name under {DOMAIN}"})
    replicas: int = attrs.field(default=1, metadata={"description": "how many replicas"})
    tier: str | None = attrs.field(default=None, metadata={"description": "web or batch"})


@attrs.frozen
class SiteStatus:
    published: bool = False


config = OperatorConfig("site", Site).with_child(core_v1.ConfigMap, ChildConfig.replace())


def check_site(request: AdmissionRequest) -> Allowed | Denied:
    """Deny a Site whose domain or replica count is out of bounds, or whose domain changed."""
    spec = request.spec_as(SiteSpec)
    problems: list[FieldError] = []
    if spec.domain != DOMAIN and not spec.domain.endswith(f".{DOMAIN}"):
        problems.append(FieldError("spec.domain", f"{spec.domain!r} is not under {DOMAIN}"))
    if not 0 <= spec.replicas <= MAX_REPLICAS:
        problems.append(FieldError("spec.replicas",
                                   f"{spec.replicas} is not between 0 and {MAX_REPLICAS}"))
    old = request.old_spec_as(SiteSpec) if request.operation == "UPDATE" else None
    if old is not None and old.domain != spec.domain:
        problems.append(FieldError("spec.domain",
                                   f"cannot change from {old.domain!r} to {spec.domain!r}"))
    if problems:
        return Denied("; ".join(f"{p.field}: {p.message}" for p in problems), fields=problems)
    if spec.replicas == 0:
        return Allowed(warnings=(f"site {request.name} has no replicas",))
    return Allowed()


def default_tier(request: AdmissionRequest) -> SiteSpec | None:
    """A Site created without a tier is a ``web`` site."""
    spec = request.spec_as(SiteSpec)
    return None if spec.tier else attrs.evolve(spec, tier="web")


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(SiteSpec)
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"site-{request.name}", "namespace": request.namespace},
        "data": {"domain": spec.domain, "replicas": str(spec.replicas),
                 "tier": spec.tier or ""},
    }
    return SyncResponse(children=[configmap], status={"published": True})


operator = OperatorDefinition(
    config, sync, spec_class=SiteSpec, status_class=SiteStatus,
    description="A web site published in a ConfigMap, checked by its admission webhooks",
    validators=[check_site],
    mutators=[Mutator(default_tier, operations=("CREATE",))],
)
