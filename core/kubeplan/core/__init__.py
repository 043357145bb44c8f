"""kubeplan.core: the pure part of kubeplan (no I/O, no asyncio, no clock reads).

- ``types`` / ``k8s``: ``K8sType`` and the built-in catalogue (``k8s.apps_v1.Deployment`` ...).
- ``config``: ``OperatorConfig(name, parent).with_child(type, ChildConfig.replace())``;
  ``definition``: ``OperatorDefinition`` (config + handler + CRD classes, one value).
- ``related``: ``RelatedSelector``, read-only related objects (``config.with_related``).
- ``objects``: ``ObjectRef`` and pure accessors on raw objects (``is_owned_by`` ...).
- ``request``: ``SyncRequest`` (parent + ``Children``), what a handler is given.
- ``response``: ``SyncResponse`` / ``FinalizeResponse``, what a handler returns.
- ``handler``: the handler protocol and ``HandlerInfo.of(handler)``.
- ``validate``: checks a response; ``errors``: the ``InvalidResponse`` family, ``HandlerError``.
- ``compare``: subset comparison, desired hash, projections; ``memo``: the ``ApplyMemo``.
- ``status``: ``with_condition`` (the ``Synced`` condition).
- ``plan``: ``Plan`` and its actions; ``planner``: ``plan(config, request, result, ...)``.

The planner function is not re-exported here (``from kubeplan.core.planner import plan``): as
``kubeplan.core.plan`` it would hide the ``plan`` module.
"""

from kubeplan.core.compare import desired_hash, subset_diff
from kubeplan.core.config import (
    ANNOTATION_DESIRED_HASH,
    LABEL_OPERATOR,
    LABEL_PARENT_UID,
    ChildConfig,
    OperatorConfig,
    UpdateStrategy,
)
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import (
    ChildSetsStatus,
    DuplicateChild,
    HandlerError,
    InvalidField,
    InvalidResponse,
    InvalidStatus,
    KubeplanError,
    MissingField,
    NamespaceNotAllowed,
    NotAnObject,
    NotSerializable,
    ServerFieldSet,
    UndeclaredChildType,
    WrongResponseType,
)
from kubeplan.core.handler import Handler, HandlerInfo
from kubeplan.core.memo import ApplyMemo, MemoEntry
from kubeplan.core.objects import ObjectKey, ObjectRef
from kubeplan.core.plan import (
    Action,
    AddFinalizer,
    Create,
    Delete,
    Plan,
    Recreate,
    RemoveFinalizer,
    Replace,
    UpdateStatus,
)
from kubeplan.core.related import LabelSelector, RelatedSelector
from kubeplan.core.request import Children, ChildrenOfType, SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.status import with_condition
from kubeplan.core.types import K8sType
from kubeplan.core.validate import validate_response

__all__ = [
    "ANNOTATION_DESIRED_HASH",
    "LABEL_OPERATOR",
    "LABEL_PARENT_UID",
    "Action",
    "AddFinalizer",
    "ApplyMemo",
    "ChildConfig",
    "ChildSetsStatus",
    "Children",
    "ChildrenOfType",
    "Create",
    "Delete",
    "DuplicateChild",
    "FinalizeResponse",
    "Handler",
    "HandlerError",
    "HandlerInfo",
    "InvalidField",
    "InvalidResponse",
    "InvalidStatus",
    "K8sType",
    "KubeplanError",
    "LabelSelector",
    "MemoEntry",
    "MissingField",
    "NamespaceNotAllowed",
    "NotAnObject",
    "NotSerializable",
    "ObjectKey",
    "ObjectRef",
    "OperatorConfig",
    "OperatorDefinition",
    "Plan",
    "Recreate",
    "RelatedSelector",
    "RemoveFinalizer",
    "Replace",
    "ServerFieldSet",
    "SyncRequest",
    "SyncResponse",
    "UndeclaredChildType",
    "UpdateStatus",
    "UpdateStrategy",
    "WrongResponseType",
    "desired_hash",
    "subset_diff",
    "validate_response",
    "with_condition",
]
