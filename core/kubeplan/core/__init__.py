"""kubeplan.core: the pure part of kubeplan (no I/O, no asyncio, no clock reads).

- ``types`` / ``k8s``: ``K8sType`` and the built-in catalogue (``k8s.apps_v1.Deployment`` ...).
- ``config``: ``OperatorConfig(name, parent).with_child(type, ChildConfig.replace())``;
  ``definition``: ``OperatorDefinition`` (config + handler + CRD classes, one value).
- ``filters``: ``ParentFilter`` (which parents are synced, ``config.selecting``); ``unmatched``:
  the plan for a parent they do not select.
- ``related``: ``RelatedSelector``, read-only related objects (``config.with_related``).
- ``sources``: ``HttpSource``, ``ObjectStoreSource``: external inputs polled by the runtime
  (``config.with_source``), handed over as ``request.sources[name]`` (``SourceItems``).
- ``objects``: ``ObjectRef`` and pure accessors on raw objects (``is_owned_by`` ...).
- ``request``: ``SyncRequest`` (parent + ``Children``), what a handler is given.
- ``response``: ``SyncResponse`` / ``FinalizeResponse``, what a handler returns.
- ``handler``: the handler protocol and ``HandlerInfo.of(handler)``.
- ``validate``: checks a response; ``errors``: the ``InvalidResponse`` family, ``HandlerError``,
  and what a handler raises to say what next: ``PermanentError``, ``RetryAfter``.
- ``compare``: subset comparison, desired hash, projections; ``memo``: the ``ApplyMemo``.
- ``status``: ``with_condition`` (the ``Synced`` condition).
- ``rollout``: rolling updates (``ChildConfig.rolling``, ``Check``), decided per pass.
- ``admission``: admission webhooks as pure functions (``Allowed``, ``Denied``,
  ``Validator``, ``Mutator``, ``AdmissionRequest``), declared with ``validators=``.
- ``plan``: ``Plan`` and its actions; ``planner``: ``plan(config, request, result, ...)``.

The planner function is not re-exported here (``from kubeplan.core.planner import plan``): as
``kubeplan.core.plan`` it would hide the ``plan`` module.
"""

from kubeplan.core.admission import AdmissionRequest, Allowed, Denied, Mutator, Validator
from kubeplan.core.compare import desired_hash, subset_diff
from kubeplan.core.config import (
    ANNOTATION_DESIRED_HASH,
    LABEL_OPERATOR,
    LABEL_PARENT_UID,
    ChildConfig,
    DecoratorConfig,
    OperatorConfig,
    UpdateStrategy,
)
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import (
    ChildSetsStatus,
    DuplicateChild,
    HandlerError,
    InvalidArgument,
    InvalidField,
    InvalidResponse,
    InvalidStatus,
    KubeplanError,
    MissingField,
    NamespaceNotAllowed,
    NotAnObject,
    NotSerializable,
    PermanentError,
    RetryAfter,
    ServerFieldSet,
    UndeclaredChildType,
    WrongResponseType,
)
from kubeplan.core.filters import FilterError, ParentFilter
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
    Wait,
)
from kubeplan.core.related import LabelSelector, RelatedSelector
from kubeplan.core.request import Children, ChildrenOfType, SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.rollout import Check, Rolling
from kubeplan.core.sources import (
    HttpSource,
    ObjectStoreSource,
    SecretKeyRef,
    SourceError,
    SourceItems,
)
from kubeplan.core.status import with_condition
from kubeplan.core.types import K8sType
from kubeplan.core.validate import validate_response

__all__ = [
    "ANNOTATION_DESIRED_HASH",
    "LABEL_OPERATOR",
    "LABEL_PARENT_UID",
    "Action",
    "AddFinalizer",
    "AdmissionRequest",
    "Allowed",
    "ApplyMemo",
    "Check",
    "ChildConfig",
    "ChildSetsStatus",
    "Children",
    "ChildrenOfType",
    "Create",
    "DecoratorConfig",
    "Delete",
    "Denied",
    "DuplicateChild",
    "FilterError",
    "FinalizeResponse",
    "Handler",
    "HandlerError",
    "HandlerInfo",
    "HttpSource",
    "InvalidArgument",
    "InvalidField",
    "InvalidResponse",
    "InvalidStatus",
    "K8sType",
    "KubeplanError",
    "LabelSelector",
    "MemoEntry",
    "MissingField",
    "Mutator",
    "NamespaceNotAllowed",
    "NotAnObject",
    "NotSerializable",
    "ObjectKey",
    "ObjectRef",
    "ObjectStoreSource",
    "OperatorConfig",
    "OperatorDefinition",
    "ParentFilter",
    "PermanentError",
    "Plan",
    "Recreate",
    "RelatedSelector",
    "RemoveFinalizer",
    "Replace",
    "RetryAfter",
    "Rolling",
    "SecretKeyRef",
    "ServerFieldSet",
    "SourceError",
    "SourceItems",
    "SyncRequest",
    "SyncResponse",
    "UndeclaredChildType",
    "UpdateStatus",
    "UpdateStrategy",
    "Validator",
    "Wait",
    "WrongResponseType",
    "desired_hash",
    "subset_diff",
    "validate_response",
    "with_condition",
]
