"""The fake Kubernetes API server: an in-memory store with kube-apiserver semantics.

``FakeApiServer.handle(ApiRequest) -> ApiResponse`` is the single entry point of
both faces: the in-process client (``server.client()``) and the HTTP server
(``kubeplan.testkit.apiserver.http``). Test hooks: ``server.faults``, the virtual
clock, ``server.truncate_event_log()``, ``server.requests`` and ``server.settle()``.
Callers: the admin by default; a ServiceAccount token the server issued (``authn.py``),
or an ``ApiRequest.identity``, is authorised by the RBAC objects it stores (``rbac.py``).
"""

from kubeplan.testkit.apiserver.clock import Clock, SystemClock, VirtualClock
from kubeplan.testkit.apiserver.faults import Fault, FaultInjector
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse, RequestRecord
from kubeplan.testkit.apiserver.server import FakeApiServer

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "Clock",
    "FakeApiServer",
    "Fault",
    "FaultInjector",
    "InProcessClient",
    "Registry",
    "RequestRecord",
    "ResourceInfo",
    "SystemClock",
    "VirtualClock",
]
