"""Spec validation of built-in kinds: what kube-apiserver v1.36 refuses with 422 Invalid
(pkg/apis/{core,apps,batch}/validation), worded as its field errors are.

Runs on the defaulted object (``defaults.apply`` came first), for the workload kinds,
pods, Jobs, CronJobs, Services, ConfigMaps and Secrets only. ``validate`` returns
the Status causes of a create, or of an update (then also the fields it may not change),
empty when the object is valid; a Service's update is checked by ``validate_allocated``
once the allocator kept its addresses (as ``beginUpdate`` runs before validation).
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import orjson

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver import autoscaling, quantity, status
from kubeplan.testkit.apiserver.pathnames import path_segment_problems
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.selectors import validate_label_key, validate_label_value

__all__ = ["parse_cron_schedule", "validate", "validate_allocated"]

Obj = dict[str, Any]
Causes = list[dict[str, str]]

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_DNS1123_LABEL_FMT}')"
)
_PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)
_PORT_RANGE = "must be between 1 and 65535, inclusive"
_PORT_NAME_CHARS = re.compile("[-a-z0-9]+")
_LETTER = re.compile("[a-z]")
_PERCENT_RE = re.compile("[0-9]+%")
_NONNEGATIVE = "must be greater than or equal to 0"
_IMMUTABLE = "field is immutable"
_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
_JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
_PROTOCOLS = ("SCTP", "TCP", "UDP")


# --- rendering ---------------------------------------------------------------------------


class _Rendered(str):
    """A value already rendered as the message shows it (a Go struct's fields in order)."""


def _shown(value: Any) -> str:
    """A value as ``field.Invalid`` prints it (JSON, map keys sorted, as Go's encoder)."""
    if isinstance(value, _Rendered):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _invalid(field: str, value: Any, detail: str) -> dict[str, str]:
    return status.cause("FieldValueInvalid", field, f"Invalid value: {_shown(value)}: {detail}")


def _required(field: str, detail: str = "") -> dict[str, str]:
    return status.cause(
        "FieldValueRequired", field, f"Required value: {detail}" if detail else "Required value"
    )


def _forbidden(field: str, detail: str) -> dict[str, str]:
    return status.cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def _duplicate(field: str, value: Any) -> dict[str, str]:
    return status.cause("FieldValueDuplicate", field, f"Duplicate value: {_shown(value)}")


def _not_supported(field: str, value: Any, supported: tuple[str, ...]) -> dict[str, str]:
    allowed = ", ".join(_shown(v) for v in supported)
    return status.cause(
        "FieldValueNotSupported",
        field,
        f"Unsupported value: {_shown(value)}: supported values: {allowed}",
    )


def _enum(causes: Causes, field: str, value: Any, supported: tuple[str, ...]) -> None:
    """Required when empty, NotSupported when not one of ``supported``."""
    if value is None or value == "":
        causes.append(_required(field))
    elif value not in supported:
        causes.append(_not_supported(field, value, supported))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _nonnegative(causes: Causes, obj: Obj, key: str, path: str) -> None:
    value = _int(obj.get(key))
    if value is not None and value < 0:
        causes.append(_invalid(f"{path}.{key}", value, _NONNEGATIVE))


def _dict(obj: Any, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _dns1123_label(causes: Causes, field: str, value: str) -> None:
    if len(value) > 63:
        causes.append(_invalid(field, value, "must be no more than 63 characters"))
    if not _DNS1123_LABEL_RE.match(value):
        causes.append(_invalid(field, value, _DNS1123_LABEL_MSG))


def _port_name_errors(name: str) -> list[str]:
    """``IsValidPortName`` (an IANA service name)."""
    errors = []
    if len(name) > 15:
        errors.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.fullmatch(name):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _LETTER.search(name):
        errors.append("must contain at least one letter (a-z)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def _port_number(causes: Causes, field: str, value: Any) -> None:
    number = _int(value)
    if number is not None and not 1 <= number <= 65535:
        causes.append(_invalid(field, number, _PORT_RANGE))


# --- label selectors ---------------------------------------------------------------------

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _selector_causes(selector: Obj, path: str) -> tuple[Causes, bool]:
    """``ValidateLabelSelector`` (strict values): (causes, whether it converts to a selector)."""
    causes: Causes = []
    convertible = True
    for key, value in _dict(selector, "matchLabels").items():
        for error in (
            validate_label_key(key, f"{path}.matchLabels"),
            None if not isinstance(value, str) else _label_value(value, f"{path}.matchLabels"),
        ):
            if error:
                causes.append(_cause_of(error))
                convertible = False
    for i, expr in enumerate(_list(selector, "matchExpressions")):
        where = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            continue
        operator = expr.get("operator")
        values = _list(expr, "values")
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(
                    _required(
                        f"{where}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                    )
                )
                convertible = False
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    _forbidden(
                        f"{where}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
                convertible = False
        else:
            causes.append(_invalid(f"{where}.operator", operator, "not a valid selector operator"))
            convertible = False
        key_error = validate_label_key(str(expr.get("key") or ""), f"{where}.key")
        if key_error:
            causes.append(_cause_of(key_error))
            convertible = False
    return causes, convertible


def _label_value(value: str, path: str) -> str | None:
    error = validate_label_value("", value, path)
    return None if error is None else error.replace(f"{path}[]", path, 1)


def _cause_of(error: str) -> dict[str, str]:
    field, _, message = error.partition(": ")
    return status.cause("FieldValueInvalid", field, message)


def _selector_matches(selector: Obj, labels: dict[str, Any]) -> bool:
    for key, value in _dict(selector, "matchLabels").items():
        if labels.get(key) != value:
            return False
    for expr in _list(selector, "matchExpressions"):
        if not isinstance(expr, dict):
            continue
        wanted = str(expr.get("key") or "")
        operator = expr.get("operator")
        values = _list(expr, "values")
        if operator == "In" and labels.get(wanted) not in values:
            return False
        if operator == "NotIn" and wanted in labels and labels[wanted] in values:
            return False
        if operator == "Exists" and wanted not in labels:
            return False
        if operator == "DoesNotExist" and wanted in labels:
            return False
    return True


def _selector_empty(selector: Obj) -> bool:
    return not _dict(selector, "matchLabels") and not _list(selector, "matchExpressions")


# --- pods and pod templates --------------------------------------------------------------


def _container(causes: Causes, ctr: Obj, path: str, volumes: set[str], *, pod: bool) -> None:
    """``validateContainerCommon``."""
    name = ctr.get("name")
    if not name:
        causes.append(_required(f"{path}.name"))
    elif isinstance(name, str):
        _dns1123_label(causes, f"{path}.name", name)
    if not ctr.get("image"):
        causes.append(_required(f"{path}.image"))
    policy = ctr.get("terminationMessagePolicy")
    if policy is not None:
        _enum(causes, f"{path}.terminationMessagePolicy", policy, ("File", "FallbackToLogsOnError"))
    port_names: set[str] = set()
    for i, port in enumerate(_list(ctr, "ports")):
        if not isinstance(port, dict):
            continue
        where = f"{path}.ports[{i}]"
        port_name = port.get("name")
        if isinstance(port_name, str) and port_name:
            errors = _port_name_errors(port_name)
            for error in errors:
                causes.append(_invalid(f"{where}.name", port_name, error))
            if not errors:
                if port_name in port_names:
                    causes.append(_duplicate(f"{where}.name", port_name))
                port_names.add(port_name)
        if not port.get("containerPort"):
            causes.append(_required(f"{where}.containerPort"))
        else:
            _port_number(causes, f"{where}.containerPort", port.get("containerPort"))
        if port.get("hostPort"):
            _port_number(causes, f"{where}.hostPort", port.get("hostPort"))
        protocol = port.get("protocol")
        if protocol is not None:
            _enum(causes, f"{where}.protocol", protocol, _PROTOCOLS)
    for i, env in enumerate(_list(ctr, "env")):
        if not isinstance(env, dict):
            continue
        if not env.get("name"):
            causes.append(_required(f"{path}.env[{i}].name"))
        if env.get("value") and env.get("valueFrom") is not None:
            causes.append(
                _invalid(
                    f"{path}.env[{i}].valueFrom",
                    "",
                    "may not be specified when `value` is not empty",
                )
            )
    for i, mount in enumerate(_list(ctr, "volumeMounts")):
        if isinstance(mount, dict) and mount.get("name") and mount.get("name") not in volumes:
            causes.append(
                status.cause(
                    "FieldValueNotFound",
                    f"{path}.volumeMounts[{i}].name",
                    f"Not found: {_shown(mount.get('name'))}",
                )
            )
    pull = ctr.get("imagePullPolicy")
    if pull is not None:
        _enum(causes, f"{path}.imagePullPolicy", pull, ("Always", "IfNotPresent", "Never"))
    _resources(causes, _dict(ctr, "resources"), f"{path}.resources")
    del pod


def _standard_container_resource(name: str) -> bool:
    return name in ("cpu", "memory", "ephemeral-storage") or name.startswith("hugepages-")


def _resources(causes: Causes, resources: Obj, path: str) -> None:
    """The negative quantities and requests above limits of a container's resources."""
    limits = _dict(resources, "limits")
    requests = _dict(resources, "requests")
    for which, values in (("limits", limits), ("requests", requests)):
        for name, raw in values.items():
            if not _standard_container_resource(name) and "/" not in name:
                where = f"{path}.{which}[{name}]"
                causes.append(
                    _invalid(where, name, "must be a standard resource type or fully qualified")
                )
                causes.append(_invalid(where, name, "must be a standard resource for containers"))
            try:
                amount = quantity.parse(raw)
            except (ValueError, TypeError):
                continue
            if amount.value < 0:
                causes.append(_invalid(f"{path}.{which}[{name}]", raw, _NONNEGATIVE))
    for name, raw in requests.items():
        if name not in limits:
            continue
        try:
            over = quantity.parse(raw).value > quantity.parse(limits[name]).value
        except (ValueError, TypeError):
            continue
        if over:
            causes.append(
                _invalid(
                    f"{path}.requests",
                    raw,
                    f"must be less than or equal to {name} limit of {limits[name]}",
                )
            )


def _pod_spec(causes: Causes, spec: Obj, path: str, *, pod: bool) -> None:
    """``ValidatePodSpec``: volumes, containers, init containers, the policies."""
    volumes: set[str] = set()
    for i, volume in enumerate(_list(spec, "volumes")):
        if not isinstance(volume, dict):
            continue
        name = volume.get("name")
        where = f"{path}.volumes[{i}].name"
        if not name:
            causes.append(_required(where))
        elif isinstance(name, str):
            _dns1123_label(causes, where, name)
            if name in volumes:
                causes.append(_duplicate(where, name))
            volumes.add(name)
    containers = _list(spec, "containers")
    names: set[str] = set()
    if not containers:
        causes.append(_required(f"{path}.containers"))
    for i, ctr in enumerate(containers):
        if not isinstance(ctr, dict):
            continue
        _container(causes, ctr, f"{path}.containers[{i}]", volumes, pod=pod)
        name = ctr.get("name")
        if isinstance(name, str):
            if name in names:
                causes.append(_duplicate(f"{path}.containers[{i}].name", name))
            names.add(name)
    for i, ctr in enumerate(_list(spec, "initContainers")):
        if not isinstance(ctr, dict):
            continue
        name = ctr.get("name")
        if isinstance(name, str) and name in names:
            causes.append(_duplicate(f"{path}.initContainers[{i}].name", name))
        _container(causes, ctr, f"{path}.initContainers[{i}]", volumes, pod=pod)
        if isinstance(name, str):
            names.add(name)
    _enum(
        causes, f"{path}.restartPolicy", spec.get("restartPolicy"), ("Always", "OnFailure", "Never")
    )
    _enum(
        causes,
        f"{path}.dnsPolicy",
        spec.get("dnsPolicy"),
        ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
    )
    deadline = _int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= 2147483647:
        causes.append(
            _invalid(
                f"{path}.activeDeadlineSeconds",
                deadline,
                "must be between 1 and 2147483647, inclusive",
            )
        )


def _template(causes: Causes, template: Obj, path: str) -> None:
    """``ValidatePodTemplateSpec``: the template's labels, then its pod spec."""
    labels = _dict(_dict(template, "metadata"), "labels")
    for key, value in labels.items():
        for error in (
            validate_label_key(key, f"{path}.labels"),
            _label_value(value, f"{path}.labels") if isinstance(value, str) else None,
        ):
            if error:
                causes.append(_cause_of(error))
    _pod_spec(causes, _dict(template, "spec"), f"{path}.spec", pod=False)


# --- workloads ---------------------------------------------------------------------------


#: a nil selector: it converts to one that matches no labels (an empty one matches all)
_NIL: Obj = {}


def _selector(causes: Causes, spec: Obj, *, required: bool = True) -> Obj | None:
    """A workload's ``spec.selector``: required, valid, not empty. The selector when it
    converts to one (then the template must match it)."""
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        if required:
            causes.append(_required("spec.selector"))
        return _NIL
    found, convertible = _selector_causes(selector, "spec.selector")
    causes.extend(found)
    if _selector_empty(selector):
        causes.append(
            _invalid("spec.selector", selector, "empty selector is invalid for deployment")
        )
    if not convertible:
        causes.append(_invalid("spec.selector", selector, "invalid label selector"))
        return None
    return selector


def _template_for_replicas(
    causes: Causes, spec: Obj, selector: Obj | None, *, restart: tuple[str, ...] = ("Always",)
) -> None:
    """``ValidatePodTemplateSpecForReplicaSet``: labels matched, restart policy Always."""
    template = _dict(spec, "template")
    if selector is not None:
        labels = _dict(_dict(template, "metadata"), "labels")
        if selector is _NIL or (
            not _selector_empty(selector) and not _selector_matches(selector, labels)
        ):
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    _template(causes, template, "spec.template")
    pod_spec = _dict(template, "spec")
    policy = pod_spec.get("restartPolicy")
    if policy and policy not in restart:
        causes.append(_not_supported("spec.template.spec.restartPolicy", policy, restart))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            )
        )


def _replication_controller(causes: Causes, spec: Obj) -> None:
    """``ValidateReplicationControllerSpec`` (its selector is a map, defaulted from the
    template's labels)."""
    _nonnegative(causes, spec, "minReadySeconds", "spec")
    selector = _dict(spec, "selector")
    if not selector:
        causes.append(_required("spec.selector"))
    _nonnegative(causes, spec, "replicas", "spec")
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(_required("spec.template"))
        return
    labels = _dict(_dict(template, "metadata"), "labels")
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        causes.append(
            _invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    _template(causes, template, "spec.template")
    pod_spec = _dict(template, "spec")
    policy = pod_spec.get("restartPolicy")
    if policy and policy != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", policy, ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )


def _int_or_percent(causes: Causes, value: Any, field: str) -> None:
    if isinstance(value, str):
        if not _PERCENT_RE.fullmatch(value):
            causes.append(_invalid(field, value, _PERCENT_MSG))
    elif _int(value) is not None and value < 0:
        causes.append(_invalid(field, value, _NONNEGATIVE))


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        return int(value[:-1]) if _PERCENT_RE.fullmatch(value) else 0
    return _int(value) or 0


def _rolling_update(causes: Causes, rolling: Obj, path: str) -> None:
    """``ValidateRollingUpdateDeployment``."""
    unavailable = rolling.get("maxUnavailable", 0)
    surge = rolling.get("maxSurge", 0)
    _int_or_percent(causes, unavailable, f"{path}.maxUnavailable")
    _int_or_percent(causes, surge, f"{path}.maxSurge")
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        causes.append(
            _invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0")
        )
    if isinstance(unavailable, str) and _int_or_percent_value(unavailable) > 100:
        causes.append(
            _invalid(f"{path}.maxUnavailable", unavailable, "must not be greater than 100%")
        )


def _strategy_shown(strategy: Obj) -> _Rendered:
    """The internal strategy struct as the message shows it (Go field names, in order)."""
    rolling = strategy.get("rollingUpdate")
    shown_rolling = "null"
    if isinstance(rolling, dict):
        shown_rolling = (
            "{" + ",".join(f'"{k[0].upper()}{k[1:]}":{_shown(v)}' for k, v in rolling.items()) + "}"
        )
    return _Rendered(
        f'{{"Type":{_shown(strategy.get("type") or "")},"RollingUpdate":{shown_rolling}}}'
    )


def _deployment(causes: Causes, spec: Obj) -> None:
    _nonnegative(causes, spec, "replicas", "spec")
    selector = _selector(causes, spec)
    _template_for_replicas(causes, spec, selector)
    strategy = _dict(spec, "strategy")
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            causes.append(
                _forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            )
    elif kind == "RollingUpdate":
        _rolling_update(causes, _dict(strategy, "rollingUpdate"), "spec.strategy.rollingUpdate")
    else:
        causes.append(
            _not_supported(
                "spec.strategy", _strategy_shown(strategy), ("Recreate", "RollingUpdate")
            )
        )
    _nonnegative(causes, spec, "minReadySeconds", "spec")
    _nonnegative(causes, spec, "revisionHistoryLimit", "spec")
    deadline = _int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        _nonnegative(causes, spec, "progressDeadlineSeconds", "spec")
        if deadline <= (_int(spec.get("minReadySeconds")) or 0):
            causes.append(
                _invalid(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )


def _replica_set(causes: Causes, spec: Obj) -> None:
    _nonnegative(causes, spec, "replicas", "spec")
    _nonnegative(causes, spec, "minReadySeconds", "spec")
    selector = _selector(causes, spec)
    _template_for_replicas(causes, spec, selector)


def _daemon_set(causes: Causes, spec: Obj) -> None:
    """``ValidateDaemonSetSpec``."""
    selector = spec.get("selector")
    convertible = True
    if isinstance(selector, dict):
        found, convertible = _selector_causes(selector, "spec.selector")
        causes.extend(found)
    template = _dict(spec, "template")
    if convertible:
        labels = _dict(_dict(template, "metadata"), "labels")
        if not isinstance(selector, dict) or not _selector_matches(selector, labels):
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    if isinstance(selector, dict) and _selector_empty(selector):
        causes.append(
            _invalid("spec.selector", selector, "empty selector is invalid for daemonset")
        )
    _template(causes, template, "spec.template")
    pod_spec = _dict(template, "spec")
    policy = pod_spec.get("restartPolicy")
    if policy and policy != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", policy, ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    _nonnegative(causes, spec, "minReadySeconds", "spec")
    strategy = _dict(spec, "updateStrategy")
    kind = strategy.get("type")
    if kind == "RollingUpdate":
        if not isinstance(strategy.get("rollingUpdate"), dict):
            causes.append(_required("spec.updateStrategy.rollingUpdate"))
    elif kind != "OnDelete":
        causes.append(
            _not_supported(
                "spec.updateStrategy", _strategy_shown(strategy), ("RollingUpdate", "OnDelete")
            )
        )
    _nonnegative(causes, spec, "revisionHistoryLimit", "spec")


def _stateful_set(causes: Causes, spec: Obj) -> None:
    """``ValidateStatefulSetSpec`` (the parts a client gets wrong)."""
    policy = spec.get("podManagementPolicy")
    if policy not in ("OrderedReady", "Parallel"):
        causes.append(
            _invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
        )
    strategy = _dict(spec, "updateStrategy")
    if strategy.get("type") not in ("RollingUpdate", "OnDelete"):
        causes.append(
            _invalid(
                "spec.updateStrategy",
                _strategy_shown(strategy),
                "must be 'RollingUpdate' or 'OnDelete'",
            )
        )
    _nonnegative(causes, spec, "replicas", "spec")
    _nonnegative(causes, spec, "minReadySeconds", "spec")
    selector = spec.get("selector")
    convertible = True
    if not isinstance(selector, dict):
        causes.append(_required("spec.selector"))
    else:
        found, convertible = _selector_causes(selector, "spec.selector")
        causes.extend(found)
        if convertible and _selector_empty(selector):
            causes.append(
                _invalid("spec.selector", selector, "empty selector is invalid for statefulset")
            )
    if not convertible:
        causes.append(_invalid("spec.selector", selector, "invalid label selector"))
    else:
        labels = _dict(_dict(_dict(spec, "template"), "metadata"), "labels")
        if not isinstance(selector, dict) or not _selector_matches(selector, labels):
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    _template(causes, _dict(spec, "template"), "spec.template")
    restart = _dict(_dict(spec, "template"), "spec").get("restartPolicy")
    if restart and restart != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))


# --- Jobs and CronJobs -------------------------------------------------------------------


def _job_spec(causes: Causes, spec: Obj, path: str) -> None:
    """``validateJobSpec``: the counts, the completion mode, the template's restart policy."""
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        _nonnegative(causes, spec, key, path)
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(_not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(_required(f"{path}.completions", "when completion mode is Indexed"))
    template = _dict(spec, "template")
    _template(causes, template, f"{path}.template")
    restart = _dict(template, "spec").get("restartPolicy")
    where = f"{path}.template.spec.restartPolicy"
    if restart in ("Always", "", None):
        causes.append(_required(where, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        causes.append(_not_supported(where, restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        causes.append(
            _invalid(where, restart, 'only "Never" is supported when podFailurePolicy is specified')
        )


def _job(causes: Causes, obj: Obj) -> None:
    """``ValidateJob``: the generated selector, then the spec and its selector."""
    spec = _dict(obj, "spec")
    meta = _dict(obj, "metadata")
    manual = spec.get("manualSelector") is True
    selector = spec.get("selector")
    if not manual and isinstance(selector, dict):
        # the selector is generated (defaults._job_selector): the client's labels must
        # be among the generated ones
        uid = meta.get("uid") or ""
        shown = {**selector, "matchLabels": {**_dict(selector, "matchLabels")}}
        shown["matchLabels"].setdefault(_JOB_UID_LABELS[1], uid)
        expected = {
            _JOB_UID_LABELS[0]: uid,
            _JOB_NAME_LABELS[0]: meta.get("name"),
            _JOB_UID_LABELS[1]: uid,
            _JOB_NAME_LABELS[1]: meta.get("name"),
        }
        if _selector_causes(shown, "spec.selector")[1] and not _selector_matches(shown, expected):
            causes.append(_invalid("spec.selector", shown, "`selector` not auto-generated"))
    _job_spec(causes, spec, "spec")
    if manual or isinstance(selector, dict):
        if not isinstance(selector, dict):
            causes.append(_required("spec.selector"))
            return
        found, convertible = _selector_causes(selector, "spec.selector")
        causes.extend(found)
        labels = _dict(_dict(_dict(spec, "template"), "metadata"), "labels")
        if manual and convertible and not _selector_matches(selector, labels):
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )


_CRON_BOUNDS: dict[int, tuple[int, int, dict[str, int]]] = {
    0: (0, 59, {}),
    1: (0, 23, {}),
    2: (1, 31, {}),
    3: (
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
            )
        },
    ),
    4: (0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
}
_CRON_DESCRIPTORS = (
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
)


def _cron_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidArgument(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    number = int(text)
    if number < 0:
        raise InvalidArgument(f"negative number ({number}) not allowed: {text}")
    return number


def _cron_range(expr: str, low: int, high: int, names: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = low, high
    else:
        named_start = names.get(low_high[0].lower()) if names else None
        start = _cron_int(low_high[0]) if named_start is None else named_start
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            named = names.get(low_high[1].lower()) if names else None
            end = _cron_int(low_high[1]) if named is None else named
        else:
            raise InvalidArgument(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _cron_int(range_and_step[1])
        if len(low_high) == 1:
            end = high
    else:
        raise InvalidArgument(f"too many slashes: {expr}")
    if start < low:
        raise InvalidArgument(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise InvalidArgument(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise InvalidArgument(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise InvalidArgument(f"step of range should be a positive number: {expr}")


def parse_cron_schedule(schedule: str) -> str | None:
    """What robfig/cron's standard parser says of ``schedule`` (None: it parses)."""
    if not schedule:
        return "empty spec string"
    spec = schedule
    if spec.startswith(("TZ=", "CRON_TZ=")):
        spec = spec[spec.find(" ") :].strip() if " " in spec else ""
    if spec.startswith("@"):
        if spec in _CRON_DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            return (
                None
                if re.fullmatch(r"([0-9.]+(ns|us|µs|ms|s|m|h))+", spec[7:])
                else (f'failed to parse duration {spec}: time: invalid duration "{spec[7:]}"')
            )
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    try:
        for index, text in enumerate(fields):
            low, high, names = _CRON_BOUNDS[index]
            for expr in (part for part in text.split(",") if part):
                _cron_range(expr, low, high, names)
    except ValueError as exc:
        return str(exc)
    return None


_TIME_ZONE_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _time_zone_known(name: str) -> bool:
    import zoneinfo

    if name in ("UTC", "Local", ""):
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _cron_job(causes: Causes, obj: Obj, old: Obj | None) -> None:
    """``validateCronJobSpec``."""
    spec = _dict(obj, "spec")
    old_spec = _dict(old, "spec") if old is not None else None
    schedule = spec.get("schedule")
    if not schedule:
        causes.append(_required("spec.schedule"))
    elif isinstance(schedule, str):
        error = parse_cron_schedule(schedule)
        if error:
            causes.append(_invalid("spec.schedule", schedule, error))
        allow_tz = old_spec is not None and "TZ" in str(old_spec.get("schedule") or "")
        if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
            causes.append(
                _invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                )
            )
        elif not allow_tz and "TZ" in schedule:
            causes.append(
                _invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    _nonnegative(causes, spec, "startingDeadlineSeconds", "spec")
    zone = spec.get("timeZone")
    if isinstance(zone, str) and (old_spec is None or old_spec.get("timeZone") != zone):
        parts_ok = all(_TIME_ZONE_PART.match(part) for part in zone.split("/")) and zone
        if not parts_ok or not _time_zone_known(zone):
            causes.append(_invalid("spec.timeZone", zone, f"unknown time zone {zone}"))
    _enum(
        causes,
        "spec.concurrencyPolicy",
        spec.get("concurrencyPolicy"),
        ("Allow", "Forbid", "Replace"),
    )
    _job_spec(causes, _dict(_dict(spec, "jobTemplate"), "spec"), "spec.jobTemplate.spec")
    _nonnegative(causes, spec, "successfulJobsHistoryLimit", "spec")
    _nonnegative(causes, spec, "failedJobsHistoryLimit", "spec")


# --- Services, claims --------------------------------------------------------------------


def _service(causes: Causes, spec: Obj) -> None:
    """``validateService`` beside what ``writes._service_port_causes`` and the
    allocator check (port names, duplicate ports, addresses)."""
    kind = spec.get("type")
    ports = _list(spec, "ports")
    headless = (spec.get("clusterIPs") or [None])[0] == "None" or spec.get("clusterIP") == "None"
    if not ports and not headless and kind != "ExternalName":
        causes.append(_required("spec.ports"))
    if kind == "ExternalName":
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if not cname:
            causes.append(_required("spec.externalName"))
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        where = f"spec.ports[{i}]"
        name = port.get("name")
        if isinstance(name, str) and name:
            _dns1123_label(causes, f"{where}.name", name)
        number = _int(port.get("port"))
        if number is not None and not 1 <= number <= 65535:
            causes.append(_invalid(f"{where}.port", number, _PORT_RANGE))
        protocol = port.get("protocol")
        if protocol is not None:
            _enum(causes, f"{where}.protocol", protocol, _PROTOCOLS)
        target = port.get("targetPort")
        if isinstance(target, str):
            for error in _port_name_errors(target):
                causes.append(_invalid(f"{where}.targetPort", target, error))
        elif (target_number := _int(target)) is not None and not 1 <= target_number <= 65535:
            causes.append(_invalid(f"{where}.targetPort", target_number, _PORT_RANGE))
    for key, value in _dict(spec, "selector").items():
        for problem in (
            validate_label_key(key, "spec.selector"),
            _label_value(value, "spec.selector") if isinstance(value, str) else None,
        ):
            if problem:
                causes.append(_cause_of(problem))
    affinity = spec.get("sessionAffinity")
    _enum(causes, "spec.sessionAffinity", affinity, ("ClientIP", "None"))
    if affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(
            _forbidden(
                "spec.sessionAffinityConfig", "must not be set when session affinity is None"
            )
        )
    _enum(causes, "spec.type", kind, ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if isinstance(port, dict) and port.get("nodePort"):
                causes.append(
                    _forbidden(
                        f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"
                    )
                )
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        causes.append(
            _forbidden(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    policy = spec.get("externalTrafficPolicy")
    if not accessible:
        if policy:
            causes.append(
                _invalid(
                    "spec.externalTrafficPolicy",
                    policy,
                    "may only be set for externally-accessible services",
                )
            )
    elif policy and policy not in ("Cluster", "Local"):
        causes.append(_not_supported("spec.externalTrafficPolicy", policy, ("Cluster", "Local")))


def _claim(causes: Causes, spec: Obj) -> None:
    """``ValidatePersistentVolumeClaimSpec``: access modes and a storage request."""
    if not _list(spec, "accessModes"):
        causes.append(_required("spec.accessModes", "at least 1 access mode is required"))
    if "storage" not in _dict(_dict(spec, "resources"), "requests"):
        causes.append(_required("spec.resources[storage]"))


# --- updates -----------------------------------------------------------------------------

_STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
_FROZEN = "field is immutable when `immutable` is set"


def _immutable(causes: Causes, new: Obj, old: Obj, key: str, path: str) -> None:
    if new.get(key) != old.get(key):
        causes.append(_invalid(path, new.get(key), _IMMUTABLE))


def _without_resources(spec: Obj) -> Obj:
    copy = dict(spec)
    for key in ("containers", "initContainers"):
        copy[key] = [
            {k: v for k, v in ctr.items() if k != "resources"} if isinstance(ctr, dict) else ctr
            for ctr in _list(spec, key)
        ]
    return copy


def _job_update(causes: Causes, spec: Obj, old_spec: Obj) -> None:
    if spec.get("completionMode") != "Indexed":
        _immutable(causes, spec, old_spec, "completions", "spec.completions")
    elif (
        spec.get("completions") != old_spec.get("completions")
        and spec.get("completions") is not None
        and spec.get("completions") != spec.get("parallelism")
    ):
        causes.append(
            _invalid(
                "spec.completions",
                spec.get("completions"),
                "can only be modified in tandem with spec.parallelism",
            )
        )
    _immutable(causes, spec, old_spec, "selector", "spec.selector")
    template, old_template = _dict(spec, "template"), _dict(old_spec, "template")
    if old_spec.get("suspend") is True:
        # a suspended Job's containers may change their resources, nothing else
        new_pod, old_pod = _dict(template, "spec"), _dict(old_template, "spec")
        if _without_resources(new_pod) != _without_resources(old_pod):
            causes.append(_invalid("spec.template.spec", new_pod, _IMMUTABLE))
    elif template != old_template:
        causes.append(_invalid("spec.template", template, _IMMUTABLE))
    for key in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        _immutable(causes, spec, old_spec, key, f"spec.{key}")


_POD_UPDATABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _spec_diff(old: Any, new: Any) -> str:
    """A unified diff of two specs, as the message's ``diff.Diff`` shows one (over the
    API's JSON here; the real server diffs its internal Go structs)."""
    before = json.dumps(old, indent=1, sort_keys=True).splitlines()
    after = json.dumps(new, indent=1, sort_keys=True).splitlines()
    lines = difflib.unified_diff(before, after, lineterm="", n=3)
    return "\n".join(list(lines)[2:]) + "\n"


def _pod_update(causes: Causes, spec: Obj, old_spec: Obj) -> None:
    """``ValidatePodUpdate``: only images, a shorter deadline, more tolerations, fewer
    scheduling gates (and a grace period of 1 for a negative one) may change."""
    if spec == old_spec:
        return
    munged = dict(spec)
    for key in ("containers", "initContainers"):
        new_list, old_list = _list(spec, key), _list(old_spec, key)
        if key in spec and len(new_list) == len(old_list):
            munged[key] = [
                {**ctr, "image": old.get("image")}
                if isinstance(ctr, dict) and isinstance(old, dict)
                else ctr
                for ctr, old in zip(new_list, old_list, strict=True)
            ]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    grace = _int(old_spec.get("terminationGracePeriodSeconds"))
    if grace is not None and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    if munged != old_spec:
        causes.append(
            _forbidden(
                "spec",
                f"pod updates may not change fields other than {_POD_UPDATABLE}\n"
                + _spec_diff(old_spec, munged),
            )
        )


def _claim_update(causes: Causes, new: Obj, old: Obj) -> None:
    """``ValidatePersistentVolumeClaimUpdate``: the spec is fixed but for what a bound
    claim may change and a first storage class."""
    spec, old_spec = dict(_dict(new, "spec")), dict(_dict(old, "spec"))
    if not old_spec.get("volumeName"):
        old_spec.pop("volumeName", None)
        if "volumeName" in spec:
            old_spec["volumeName"] = spec["volumeName"]
    annotations = _dict(_dict(old, "metadata"), "annotations")
    if (
        old_spec.get("storageClassName") is None
        and spec.get("storageClassName") is not None
        and "volume.beta.kubernetes.io/storage-class" not in annotations
    ):
        old_spec["storageClassName"] = spec["storageClassName"]
    if _dict(new, "status").get("phase") == "Bound":
        resources = dict(_dict(spec, "resources"))
        requests = dict(_dict(resources, "requests"))
        old_requests = _dict(_dict(old_spec, "resources"), "requests")
        if "storage" in old_requests:
            requests["storage"] = old_requests["storage"]
        resources["requests"] = requests
        spec["resources"] = resources
        spec.pop("volumeAttributesClassName", None)
        if "volumeAttributesClassName" in old_spec:
            spec["volumeAttributesClassName"] = old_spec["volumeAttributesClassName"]
    if spec != old_spec:
        causes.append(
            _forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims\n" + _spec_diff(old_spec, spec),
            )
        )


def _update_causes(new: Obj, old: Obj, info: ResourceInfo) -> Causes:
    """The fields an update may not change: Status causes, empty when it may."""
    key = (info.group, info.kind)
    causes: Causes = []
    if key not in _KINDS:
        return causes
    spec, old_spec = _dict(new, "spec"), _dict(old, "spec")
    if key in (("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet")):
        _immutable(causes, spec, old_spec, "selector", "spec.selector")
    elif key == ("apps", "StatefulSet"):
        frozen = {k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE}
        old_frozen = {k: v for k, v in old_spec.items() if k not in _STATEFULSET_MUTABLE}
        if frozen != old_frozen:
            causes.append(
                _forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'revisionHistoryLimit', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
    elif key == ("batch", "Job"):
        _job_update(causes, spec, old_spec)
    elif key == ("", "Pod"):
        _pod_update(causes, spec, old_spec)
    elif key == ("", "PersistentVolumeClaim"):
        _claim_update(causes, new, old)
    elif key == ("", "Service"):
        if "ExternalName" not in (spec.get("type"), old_spec.get("type")):
            ips = spec.get("clusterIPs") or []
            for i, ip in enumerate(old_spec.get("clusterIPs") or []):
                if i < len(ips) and ips[i] != ip:
                    causes.append(_invalid(f"spec.clusterIPs[{i}]", ips, "may not change once set"))
                    break
    elif key in (("", "ConfigMap"), ("", "Secret")):
        if key == ("", "Secret"):
            _immutable(causes, new, old, "type", "type")
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                causes.append(_forbidden("immutable", _FROZEN))
            fields = ("data", "binaryData") if key == ("", "ConfigMap") else ("data",)
            for field in fields:
                if (new.get(field) or None) != (old.get(field) or None):
                    causes.append(_forbidden(field, _FROZEN))
    return causes


# --- entry point -------------------------------------------------------------------------


def validate(obj: Obj, info: ResourceInfo, old: Obj | None = None) -> Causes:
    """What the kind's validation refuses in a defaulted object: a create's (``old`` is
    None) or an update's of the stored ``old`` (then the immutable fields too, in the
    order the kind's ``Validate...Update`` reports them)."""
    key = (info.group, info.kind)
    if key not in _KINDS or (old is not None and key == ("", "Service")):
        return []  # a Service's update is checked once allocated: validate_allocated
    causes = _spec_causes(obj, info, old)
    if old is not None:
        changed = _update_causes(obj, old, info)
        causes = changed + causes if key in _UPDATE_FIRST else causes + changed
    return causes


def validate_allocated(obj: Obj, info: ResourceInfo, old: Obj) -> Causes:
    """An update of a Service, checked as the real server does: after its REST storage
    kept the allocated addresses and ports and dropped what the new type does not use."""
    if (info.group, info.kind) != ("", "Service"):
        return []
    return _update_causes(obj, old, info) + _spec_causes(obj, info, old)


def _spec_causes(obj: Obj, info: ResourceInfo, old: Obj | None) -> Causes:
    key = (info.group, info.kind)
    causes: Causes = []
    spec = _dict(obj, "spec")
    if key == ("apps", "Deployment"):
        _deployment(causes, spec)
    elif key == ("apps", "ReplicaSet"):
        _replica_set(causes, spec)
    elif key == ("apps", "DaemonSet"):
        _daemon_set(causes, spec)
    elif key == ("apps", "StatefulSet"):
        _stateful_set(causes, spec)
    elif key == ("", "ReplicationController"):
        _replication_controller(causes, spec)
    elif key == ("", "Pod"):
        _pod_spec(causes, spec, "spec", pod=True)
    elif key == ("", "PodTemplate"):
        _template(causes, _dict(obj, "template"), "template")
    elif key == ("batch", "Job"):
        _job(causes, obj)
    elif key == ("batch", "CronJob"):
        name = _dict(obj, "metadata").get("name")
        if old is None and isinstance(name, str) and len(name) > 52:
            causes.append(_invalid("metadata.name", name, "must be no more than 52 characters"))
        _cron_job(causes, obj, old)
    elif key == ("", "Service"):
        _service(causes, spec)
    elif key == ("", "PersistentVolumeClaim"):
        _claim(causes, spec)
    elif key == ("networking.k8s.io", "Ingress"):
        _ingress(causes, spec)
    elif key == (autoscaling.GROUP, autoscaling.KIND):
        _hpa(causes, obj, info, old)
    return causes


def _ingress(causes: Causes, spec: Obj) -> None:
    """``ValidateIngressSpec``'s first rule: some backend, a default one or rules (the
    rules' and backends' own checks are not made)."""
    if not spec.get("rules") and spec.get("defaultBackend") is None:
        # the bad value is the nil rules slice, which prints as JSON null
        causes.append(_invalid("spec", None,
                               "either `defaultBackend` or `rules` must be specified"))


# --- horizontal pod autoscalers (ValidateHorizontalPodAutoscaler) ------------------------

_METRIC_SOURCES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_MAX_STABILIZATION_SECONDS = 3600
_MAX_PERIOD_SECONDS = 1800


def _hpa_ref(causes: Causes, ref: Obj, path: str, *, empty_group: bool,
             check_version: bool = True) -> None:
    """``ValidateCrossVersionObjectReference``."""
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            causes.append(_required(f"{path}.{key}"))
        for problem in path_segment_problems(str(value)) if value else ():
            causes.append(_invalid(f"{path}.{key}", value, problem))
    version = str(ref.get("apiVersion") or "")
    if not check_version:
        return
    if version.count("/") > 1:
        causes.append(_invalid(f"{path}.apiVersion", version,
                               f"unexpected GroupVersion string: {version}"))
    elif not empty_group and "/" not in version:
        causes.append(_invalid(f"{path}.apiVersion", version,
                               "apiVersion must specify API group"))


def _positive_quantity(value: Any) -> bool:
    try:
        return quantity.parse(value).value > 0
    except InvalidArgument:
        return True  # the decoder refuses what does not parse


def _hpa_target(causes: Causes, target: Obj, path: str) -> None:
    """``validateMetricTarget``."""
    type_ = target.get("type") or ""
    if not type_:
        causes.append(_required(f"{path}.type", "must specify a metric target type"))
    if type_ not in ("Utilization", "Value", "AverageValue"):
        causes.append(_invalid(f"{path}.type", type_,
                               "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        if target.get(key) is not None and not _positive_quantity(target[key]):
            causes.append(_invalid(f"{path}.{key}", target[key], "must be positive"))
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        causes.append(_invalid(f"{path}.averageUtilization", utilization,
                               "must be greater than 0"))


def _hpa_identifier(causes: Causes, ident: Obj, path: str) -> None:
    name = ident.get("name") or ""
    if not name:
        causes.append(_required(f"{path}.name", "must specify a metric name"))
    for problem in path_segment_problems(str(name)) if name else ():
        causes.append(_invalid(f"{path}.name", name, problem))


def _hpa_source(causes: Causes, key: str, source: Obj, path: str) -> None:
    target = _dict(source, "target")
    if key in ("object", "external", "pods"):
        if key == "object":
            _hpa_ref(causes, _dict(source, "describedObject"), f"{path}.describedObject",
                     empty_group=True)
        _hpa_identifier(causes, _dict(source, "metric"), f"{path}.metric")
        _hpa_target(causes, target, f"{path}.target")
        value, average = target.get("value"), target.get("averageValue")
        if key == "pods" and average is None:
            causes.append(_required(f"{path}.target.averageValue",
                                    "must specify a positive target averageValue"))
        elif key == "object" and value is None and average is None:
            causes.append(_required(f"{path}.target.averageValue",
                                    "must set either a target value or averageValue"))
        elif key == "external" and value is None and average is None:
            causes.append(_required(f"{path}.target.averageValue", "must set either a target "
                                    "value for metric or a per-pod target"))
        elif key == "external" and value is not None and average is not None:
            causes.append(_forbidden(f"{path}.target.value", "may not set both a target "
                                     "value for metric and a per-pod target"))
        return
    if not source.get("name"):
        causes.append(_required(f"{path}.name", "must specify a resource name"))
    if key == "containerResource" and not source.get("container"):
        causes.append(_required(f"{path}.container", "must specify a container"))
    _hpa_target(causes, target, f"{path}.target")
    utilization, average = target.get("averageUtilization"), target.get("averageValue")
    if utilization is None and average is None:
        causes.append(_required(f"{path}.target.averageUtilization",
                                "must set either a target raw value or a target utilization"))
    elif utilization is not None and average is not None:
        causes.append(_forbidden(f"{path}.target.averageValue",
                                 "may not set both a target raw value and a target "
                                 "utilization"))


def _hpa_metric(causes: Causes, metric: Obj, path: str) -> None:
    """``validateMetricSpec``."""
    type_ = metric.get("type") or ""
    if not type_:
        causes.append(_required(f"{path}.type", "must specify a metric source type"))
    if type_ not in _METRIC_SOURCES:
        causes.append(_not_supported(f"{path}.type", type_, _METRIC_SOURCES))
    present = [k for k in ("object", "external", "pods", "resource", "containerResource")
               if isinstance(metric.get(k), dict)]
    if present:
        _hpa_source(causes, present[0], metric[present[0]], f"{path}.{present[0]}")
    expected = {"Object": "object", "Pods": "pods", "Resource": "resource",
                "External": "external", "ContainerResource": "containerResource"}.get(type_)
    if expected is None:
        causes.append(_not_supported(f"{path}.type", type_, _METRIC_SOURCES))
    elif expected not in present:
        causes.append(_required(f"{path}.{expected}",
                                "must populate information for the given metric source"))
    if len(present) != 1:
        for key in sorted(set(present) - {expected}):
            causes.append(_forbidden(f"{path}.{key}", "must populate the given metric "
                                     "source only"))


def _hpa_rules(causes: Causes, rules: Any, path: str) -> None:
    """``validateScalingRules``."""
    if not isinstance(rules, dict):
        return
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and window < 0:
        causes.append(_invalid(f"{path}.stabilizationWindowSeconds", window,
                               "must be greater than or equal to zero"))
    if isinstance(window, int) and window > _MAX_STABILIZATION_SECONDS:
        causes.append(_invalid(f"{path}.stabilizationWindowSeconds", window,
                               f"must be less than or equal to {_MAX_STABILIZATION_SECONDS}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in ("Disabled", "Max", "Min"):
        causes.append(_not_supported(f"{path}.selectPolicy", select, ("Disabled", "Max", "Min")))
    policies = rules.get("policies")
    if not policies:
        causes.append(_required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies if isinstance(policies, list) else []):
        where, policy = f"{path}.policies[{i}]", policy if isinstance(policy, dict) else {}
        if policy.get("type") not in ("Percent", "Pods"):
            causes.append(_not_supported(f"{where}.type", policy.get("type") or "",
                                         ("Percent", "Pods")))
        for key in ("value", "periodSeconds"):
            if int(policy.get(key) or 0) <= 0:
                causes.append(_invalid(f"{where}.{key}", int(policy.get(key) or 0),
                                       "must be greater than zero"))
        period = int(policy.get("periodSeconds") or 0)
        if period > _MAX_PERIOD_SECONDS:
            causes.append(_invalid(f"{where}.periodSeconds", period,
                                   f"must be less than or equal to {_MAX_PERIOD_SECONDS}"))


def _hpa(causes: Causes, obj: Obj, info: ResourceInfo, old: Obj | None) -> None:
    """``validateHorizontalPodAutoscalerSpec`` of the internal object (a v1 one is
    checked as the v2 object it converts to: errors name v2's paths), with the
    strategy's options: minReplicas of at least one (HPAScaleToZero is off) unless the
    old object had zero, the target's apiVersion checked unless an update keeps it."""
    if info.version == "v1":
        obj = autoscaling.to_v2(obj, stored=False)
        old = autoscaling.to_v2(old, stored=False) if old is not None else None
    spec = _dict(obj, "spec")
    old_spec = _dict(old, "spec") if old is not None else {}
    low = 0 if old is not None and old_spec.get("minReplicas") == 0 else 1
    least, most = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if isinstance(least, int) and least < low:
        causes.append(_invalid("spec.minReplicas", least,
                               f"must be greater than or equal to {low}"))
    if most == 0:
        causes.append(_required("spec.maxReplicas", "must be set and greater than 0"))
    elif isinstance(most, int) and most < 0:
        causes.append(_invalid("spec.maxReplicas", most, "must be greater than or equal to 1"))
    if isinstance(least, int) and isinstance(most, int) and most < least:
        causes.append(_invalid("spec.maxReplicas", most,
                               "must be greater than or equal to `minReplicas`"))
    ref, old_ref = _dict(spec, "scaleTargetRef"), _dict(old_spec, "scaleTargetRef")
    kept = old is not None and all(ref.get(k) == old_ref.get(k) for k in ("apiVersion", "kind"))
    _hpa_ref(causes, ref, "spec.scaleTargetRef",
             empty_group=ref.get("kind") == "ReplicationController", check_version=not kept)
    metrics = [m for m in spec.get("metrics") or [] if isinstance(m, dict)]
    for i, metric in enumerate(metrics):
        _hpa_metric(causes, metric, f"spec.metrics[{i}]")
    if least == 0 and not any(m.get("type") in ("Object", "External") for m in metrics):
        causes.append(_forbidden("spec.metrics", "must specify at least one Object or "
                                 "External metric to support scaling to zero replicas"))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        _hpa_rules(causes, behavior.get("scaleUp"), "spec.behavior.scaleUp")
        _hpa_rules(causes, behavior.get("scaleDown"), "spec.behavior.scaleDown")


#: kinds whose update checks come before the object's own validation
_UPDATE_FIRST = frozenset({("", "Service"), ("", "ConfigMap"), ("", "Secret")})
_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "Service"),
        ("", "PersistentVolumeClaim"),
        ("networking.k8s.io", "Ingress"),
        (autoscaling.GROUP, autoscaling.KIND),
        ("", "ConfigMap"),
        ("", "Secret"),
    }
)
