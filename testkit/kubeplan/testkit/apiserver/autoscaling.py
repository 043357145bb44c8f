"""HorizontalPodAutoscalers served as ``autoscaling/v1`` and ``autoscaling/v2``.

The real server stores HPAs as v2 and converts every v1 read and write through its
internal type (upstream ``pkg/apis/autoscaling/v1/conversion.go``), the spec of what is
written here; the fake's v2 JSON stands in for the internal type:

* v1's ``targetCPUUtilizationPercentage`` is v2's Resource ``cpu`` metric with an
  ``Utilization`` target (the first one); a v1 object without it reads back with the
  default target (``DEFAULT_CPU_UTILIZATION``) that the conversion puts in;
* everything v1 cannot say travels in annotations: the other metrics
  (``METRIC_SPECS``, as v1's older metric types), the current metrics
  (``METRIC_STATUSES``), the conditions (``CONDITIONS``) and the behaviour
  (``BEHAVIOR``, the internal Go struct's JSON, field names capitalised). Going to v2
  they are read back and removed; either way in, the round-trip annotations a client
  sent are dropped first;
* the defaults of each version (``SetDefaults_HorizontalPodAutoscaler``): v1 a
  ``minReplicas`` of one, v2 also the CPU metric and the scaling rules a partial
  ``behavior`` leaves out. A v2 object read from storage is defaulted as well.

The annotations hold Go's ``encoding/json`` text (struct field order, no spaces, HTML
characters escaped, null pointers of the behaviour written as null), so they read as
the real server's do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from kubeplan.testkit.apiserver.quantity import canonical

__all__ = [
    "BEHAVIOR",
    "CONDITIONS",
    "DEFAULT_CPU_UTILIZATION",
    "GROUP",
    "KIND",
    "METRIC_SPECS",
    "METRIC_STATUSES",
    "convert",
    "default",
    "field_manager_view",
]

Obj = dict[str, Any]

GROUP = "autoscaling"
KIND = "HorizontalPodAutoscaler"
METRIC_SPECS = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
_TOLERANCE_DOWN = "autoscaling.alpha.kubernetes.io/scale-down-tolerance"
_TOLERANCE_UP = "autoscaling.alpha.kubernetes.io/scale-up-tolerance"
#: dropped from every HPA converted either way (``DropRoundTripHorizontalPodAutoscaler
#: Annotations``)
_ROUND_TRIP = (METRIC_SPECS, BEHAVIOR, _TOLERANCE_DOWN, _TOLERANCE_UP, METRIC_STATUSES,
               CONDITIONS)
DEFAULT_CPU_UTILIZATION = 80
V1 = "autoscaling/v1"
V2 = "autoscaling/v2"


# --- small helpers ------------------------------------------------------------------------


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _quantity(value: Any) -> Any:
    """A ``resource.Quantity`` (not a pointer) as Go writes it: zero when unset."""
    return "0" if value is None else canonical(value)


def _put(out: Obj, key: str, value: Any) -> None:
    """An ``omitempty`` pointer field: written when set."""
    if value is not None:
        out[key] = canonical(value) if isinstance(value, str) else value


def _go_json(value: Any) -> str:
    """``json.Marshal``'s text: compact, with <, > and & escaped as Go escapes them."""
    text = orjson.dumps(value).decode()
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _selector(value: Any) -> Any:
    """A LabelSelector as Go writes it (map keys sorted, empty fields left out)."""
    if not isinstance(value, dict):
        return value
    out: Obj = {}
    labels = value.get("matchLabels")
    if isinstance(labels, dict) and labels:
        out["matchLabels"] = dict(sorted(labels.items()))
    expressions = value.get("matchExpressions")
    if isinstance(expressions, list) and expressions:
        out["matchExpressions"] = [
            {k: e[k] for k in ("key", "operator", "values") if k in e and (k != "values"
                                                                             or e[k])}
            if isinstance(e, dict) else e for e in expressions]
    return out


def _ref(value: Any) -> Obj:
    """A CrossVersionObjectReference (kind and name always, apiVersion when set)."""
    ref = _dict(value)
    out: Obj = {"kind": ref.get("kind") or "", "name": ref.get("name") or ""}
    if ref.get("apiVersion"):
        out["apiVersion"] = ref["apiVersion"]
    return out


def _identifier(name: Any, selector: Any) -> Obj:
    out: Obj = {"name": name or ""}
    if selector is not None:
        out["selector"] = selector
    return out


def _target(type_: str, value: Any = None, average: Any = None,
            utilization: Any = None) -> Obj:
    out: Obj = {"type": type_}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def _current(value: Any = None, average: Any = None, utilization: Any = None) -> Obj:
    out: Obj = {}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def _is_cpu_utilization(metric: Any) -> bool:
    source = _dict(_dict(metric).get("resource"))
    return (_dict(metric).get("type") == "Resource" and bool(source)
            and source.get("name") == "cpu"
            and _dict(source.get("target")).get("averageUtilization") is not None)


def _cpu_metric(utilization: Any) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": utilization}}}


def _drop_round_trip(meta: Obj) -> None:
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and any(k in annotations for k in _ROUND_TRIP):
        kept = {k: v for k, v in annotations.items() if k not in _ROUND_TRIP}
        if kept:
            meta["annotations"] = kept
        else:
            del meta["annotations"]


def _annotation_list(annotations: Mapping[str, Any], key: str) -> list[Obj] | None:
    """A JSON list of objects in an annotation; None when absent or unreadable (Go's
    Unmarshal error: the annotation is ignored)."""
    text = annotations.get(key)
    if not isinstance(text, str):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return None
    return [_folded(v) for v in value]


def _folded(value: Any) -> Any:
    """A struct's keys as Go's case-insensitive Unmarshal matches them: lower-cased.
    A label selector's are read back as its own fields (its map keys are data)."""
    if isinstance(value, dict):
        out: Obj = {}
        for key, item in value.items():
            name = str(key).lower()
            out[name] = _selector_in(item) if name in ("selector", "metricselector") \
                else _folded(item)
        return out
    if isinstance(value, list):
        return [_folded(v) for v in value]
    return value


def _selector_in(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out: Obj = {}
    for key, item in value.items():
        if str(key).lower() == "matchlabels":
            out["matchLabels"] = item
        elif str(key).lower() == "matchexpressions" and isinstance(item, list):
            out["matchExpressions"] = [
                {{"key": "key", "operator": "operator", "values": "values"}.get(
                    str(k).lower(), str(k)): v for k, v in e.items()}
                if isinstance(e, dict) else e for e in item]
    return out


# --- v2 (internal) -> v1 ------------------------------------------------------------------


def _v1_metric_spec(metric: Obj) -> Obj:
    type_ = metric.get("type") or ""
    out: Obj = {"type": type_}
    source = metric.get({"Object": "object", "Pods": "pods", "Resource": "resource",
                         "ContainerResource": "containerResource",
                         "External": "external"}.get(type_, ""))
    if not isinstance(source, dict):
        return out
    target = _dict(source.get("target"))
    ident = _dict(source.get("metric"))
    if type_ == "Object":
        spec: Obj = {"target": _ref(source.get("describedObject")),
                     "metricName": ident.get("name") or "",
                     "targetValue": _quantity(target.get("value"))}
        _put(spec, "selector", _selector(ident.get("selector")))
        _put(spec, "averageValue", target.get("averageValue"))
        out["object"] = spec
    elif type_ == "Pods":
        spec = {"metricName": ident.get("name") or "",
                "targetAverageValue": _quantity(target.get("averageValue"))}
        _put(spec, "selector", _selector(ident.get("selector")))
        out["pods"] = spec
    elif type_ in ("Resource", "ContainerResource"):
        spec = {"name": source.get("name") or ""}
        _put(spec, "targetAverageUtilization", target.get("averageUtilization"))
        _put(spec, "targetAverageValue", target.get("averageValue"))
        if type_ == "Resource":
            out["resource"] = spec
        else:
            spec["container"] = source.get("container") or ""
            out["containerResource"] = spec
    else:
        spec = {"metricName": ident.get("name") or ""}
        _put(spec, "metricSelector", _selector(ident.get("selector")))
        _put(spec, "targetValue", target.get("value"))
        _put(spec, "targetAverageValue", target.get("averageValue"))
        out["external"] = spec
    return out


def _v1_metric_status(metric: Obj) -> Obj:
    type_ = metric.get("type") or ""
    out: Obj = {"type": type_}
    source = metric.get({"Object": "object", "Pods": "pods", "Resource": "resource",
                         "ContainerResource": "containerResource",
                         "External": "external"}.get(type_, ""))
    if not isinstance(source, dict):
        return out
    current = _dict(source.get("current"))
    ident = _dict(source.get("metric"))
    if type_ == "Object":
        status: Obj = {"target": _ref(source.get("describedObject")),
                       "metricName": ident.get("name") or "",
                       "currentValue": _quantity(current.get("value"))}
        _put(status, "selector", _selector(ident.get("selector")))
        _put(status, "averageValue", current.get("averageValue"))
        out["object"] = status
    elif type_ == "Pods":
        status = {"metricName": ident.get("name") or "",
                  "currentAverageValue": _quantity(current.get("averageValue"))}
        _put(status, "selector", _selector(ident.get("selector")))
        out["pods"] = status
    elif type_ in ("Resource", "ContainerResource"):
        status = {"name": source.get("name") or ""}
        _put(status, "currentAverageUtilization", current.get("averageUtilization"))
        status["currentAverageValue"] = _quantity(current.get("averageValue"))
        if type_ == "Resource":
            out["resource"] = status
        else:
            status["container"] = source.get("container") or ""
            out["containerResource"] = status
    else:
        status = {"metricName": ident.get("name") or ""}
        _put(status, "metricSelector", _selector(ident.get("selector")))
        status["currentValue"] = _quantity(current.get("value"))
        _put(status, "currentAverageValue", current.get("averageValue"))
        out["external"] = status
    return out


def _v1_condition(condition: Obj) -> Obj:
    out: Obj = {"type": condition.get("type") or "", "status": condition.get("status") or "",
                "lastTransitionTime": condition.get("lastTransitionTime")}
    for key in ("reason", "message"):
        if condition.get(key):
            out[key] = condition[key]
    return out


def _internal_rules(rules: Any) -> Any:
    """One direction's scaling rules as the internal Go struct marshals (no json tags)."""
    if not isinstance(rules, dict):
        return None
    policies = rules.get("policies")
    return {
        "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
        "SelectPolicy": rules.get("selectPolicy"),
        "Policies": None if not isinstance(policies, list) else [
            {"Type": _dict(p).get("type") or "", "Value": _dict(p).get("value") or 0,
             "PeriodSeconds": _dict(p).get("periodSeconds") or 0} for p in policies],
        "Tolerance": None if rules.get("tolerance") is None
        else canonical(rules["tolerance"]),
    }


def to_v1(obj: Obj) -> Obj:
    """A v2 HorizontalPodAutoscaler as v1 shows it (a new object; ``obj`` is kept)."""
    meta = dict(_dict(obj.get("metadata")))
    _drop_round_trip(meta)
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    metrics = [m for m in _list(spec.get("metrics")) if isinstance(m, dict)]
    v1_spec: Obj = {"scaleTargetRef": _ref(spec.get("scaleTargetRef"))}
    _put(v1_spec, "minReplicas", spec.get("minReplicas"))
    v1_spec["maxReplicas"] = spec.get("maxReplicas") or 0
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        v1_spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"][
            "averageUtilization"]
    v1_status: Obj = {}
    _put(v1_status, "observedGeneration", status.get("observedGeneration"))
    _put(v1_status, "lastScaleTime", status.get("lastScaleTime"))
    v1_status["currentReplicas"] = status.get("currentReplicas") or 0
    v1_status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current = [m for m in _list(status.get("currentMetrics")) if isinstance(m, dict)]
    for metric in current:
        source = _dict(metric.get("resource"))
        utilization = _dict(source.get("current")).get("averageUtilization")
        if metric.get("type") == "Resource" and source.get("name") == "cpu" \
                and utilization is not None:
            v1_status["currentCPUUtilizationPercentage"] = utilization
    extra: Obj = {}
    others = [_v1_metric_spec(m) for m in metrics if not _is_cpu_utilization(m)]
    if others:
        extra[METRIC_SPECS] = _go_json(others)
    if current:
        extra[METRIC_STATUSES] = _go_json([_v1_metric_status(m) for m in current])
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        extra[BEHAVIOR] = _go_json({"ScaleUp": _internal_rules(behavior.get("scaleUp")),
                                    "ScaleDown": _internal_rules(behavior.get("scaleDown"))})
    conditions = [c for c in _list(status.get("conditions")) if isinstance(c, dict)]
    if conditions:
        extra[CONDITIONS] = _go_json([_v1_condition(c) for c in conditions])
    if extra:
        meta["annotations"] = {**_dict(meta.get("annotations")), **extra}
    out: Obj = {"apiVersion": V1}
    for key, value in obj.items():
        if key == "metadata":
            out[key] = meta
        elif key not in ("apiVersion", "spec", "status"):
            out[key] = value
    out.setdefault("kind", KIND)
    out["spec"] = v1_spec
    out["status"] = v1_status
    return out


# --- v1 -> v2 (internal) ------------------------------------------------------------------


def _v2_metric_spec(metric: Obj) -> Obj:
    """One of the annotation's v1 metrics (keys folded to lower case) in v2."""
    type_ = metric.get("type") or ""
    out: Obj = {"type": type_}
    key = {"Object": "object", "Pods": "pods", "Resource": "resource",
           "ContainerResource": "containerResource", "External": "external"}.get(type_)
    source = metric.get((key or "").lower())
    if key is None or not isinstance(source, dict):
        return out
    if type_ == "Object":
        value, average = source.get("targetvalue"), source.get("averagevalue")
        if average is None:
            target = _target("Value", _quantity(value))
        else:
            zero = value is None or canonical(value) in ("0", 0)
            target = _target("AverageValue", None if zero else value, average)
        target_ref = _dict(source.get("target"))
        out[key] = {"describedObject": _ref({k: target_ref.get(k.lower()) for k in
                                             ("kind", "name", "apiVersion")}),
                    "target": target,
                    "metric": _identifier(source.get("metricname"), source.get("selector"))}
    elif type_ == "Pods":
        out[key] = {"metric": _identifier(source.get("metricname"), source.get("selector")),
                    "target": _target("AverageValue",
                                      average=_quantity(source.get("targetaveragevalue")))}
    elif type_ in ("Resource", "ContainerResource"):
        utilization = source.get("targetaverageutilization")
        target = _target("AverageValue" if utilization is None else "Utilization",
                         average=source.get("targetaveragevalue"), utilization=utilization)
        out[key] = {"name": source.get("name") or "", "target": target}
        if type_ == "ContainerResource":
            out[key]["container"] = source.get("container") or ""
    else:
        value = source.get("targetvalue")
        target = _target("AverageValue" if value is None else "Value", value,
                         source.get("targetaveragevalue"))
        out[key] = {"metric": _identifier(source.get("metricname"),
                                          source.get("metricselector")), "target": target}
    return out


def _v2_metric_status(metric: Obj) -> Obj:
    type_ = metric.get("type") or ""
    out: Obj = {"type": type_}
    key = {"Object": "object", "Pods": "pods", "Resource": "resource",
           "ContainerResource": "containerResource", "External": "external"}.get(type_)
    source = metric.get((key or "").lower())
    if key is None or not isinstance(source, dict):
        return out
    if type_ == "Object":
        target_ref = _dict(source.get("target"))
        out[key] = {"metric": _identifier(source.get("metricname"), source.get("selector")),
                    "current": _current(_quantity(source.get("currentvalue")),
                                        source.get("averagevalue")),
                    "describedObject": _ref({k: target_ref.get(k.lower()) for k in
                                             ("kind", "name", "apiVersion")})}
    elif type_ == "Pods":
        out[key] = {"metric": _identifier(source.get("metricname"), source.get("selector")),
                    "current": _current(average=_quantity(source.get("currentaveragevalue")))}
    elif type_ in ("Resource", "ContainerResource"):
        out[key] = {"name": source.get("name") or "",
                    "current": _current(average=_quantity(source.get("currentaveragevalue")),
                                        utilization=source.get("currentaverageutilization"))}
        if type_ == "ContainerResource":
            out[key]["container"] = source.get("container") or ""
    else:
        out[key] = {"metric": _identifier(source.get("metricname"),
                                          source.get("metricselector")),
                    "current": _current(_quantity(source.get("currentvalue")),
                                        source.get("currentaveragevalue"))}
    return out


def _v2_rules(rules: Any) -> Any:
    """One direction of the behaviour annotation (internal field names) in v2."""
    if not isinstance(rules, dict):
        return None
    out: Obj = {}
    _put(out, "stabilizationWindowSeconds", rules.get("stabilizationwindowseconds"))
    _put(out, "selectPolicy", rules.get("selectpolicy"))
    policies = rules.get("policies")
    if isinstance(policies, list):
        out["policies"] = [{"type": _dict(p).get("type") or "",
                            "value": _dict(p).get("value") or 0,
                            "periodSeconds": _dict(p).get("periodseconds") or 0}
                           for p in policies]
    _put(out, "tolerance", rules.get("tolerance"))
    return out


def to_v2(obj: Obj, *, stored: bool = True) -> Obj:
    """A v1 HorizontalPodAutoscaler in v2 (a new object; ``obj`` is kept). ``stored``:
    with v2's defaults, as every read from storage applies them (else the internal
    object the decoder makes of a v1 body)."""
    meta = dict(_dict(obj.get("metadata")))
    annotations = _dict(meta.get("annotations"))
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    v2_spec: Obj = {"scaleTargetRef": _ref(spec.get("scaleTargetRef"))}
    _put(v2_spec, "minReplicas", spec.get("minReplicas"))
    v2_spec["maxReplicas"] = spec.get("maxReplicas") or 0
    metrics: list[Obj] = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics = [_cpu_metric(spec["targetCPUUtilizationPercentage"])]
    others = _annotation_list(annotations, METRIC_SPECS)
    if others is not None:
        metrics = [_v2_metric_spec(m) for m in others] + metrics[:1]
    if not metrics:
        metrics = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]
    v2_spec["metrics"] = metrics
    behavior_text = annotations.get(BEHAVIOR)
    if isinstance(behavior_text, str):
        try:
            behavior = orjson.loads(behavior_text)
        except orjson.JSONDecodeError:
            behavior = None
        if isinstance(behavior, dict):
            folded = _folded(behavior)
            up, down = _v2_rules(folded.get("scaleup")), _v2_rules(folded.get("scaledown"))
            if up is not None or down is not None:
                v2_spec["behavior"] = {k: v for k, v in (("scaleUp", up), ("scaleDown", down))
                                       if v is not None}
    v2_status: Obj = {}
    _put(v2_status, "observedGeneration", status.get("observedGeneration"))
    _put(v2_status, "lastScaleTime", status.get("lastScaleTime"))
    if status.get("currentReplicas"):
        v2_status["currentReplicas"] = status["currentReplicas"]
    v2_status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current: list[Obj] | None = None
    if status.get("currentCPUUtilizationPercentage") is not None:
        current = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
    annotated = _annotation_list(annotations, METRIC_STATUSES)
    if annotated is not None:
        current = [_v2_metric_status(m) for m in annotated]
    v2_status["currentMetrics"] = current
    conditions = _annotation_list(annotations, CONDITIONS)
    if conditions:
        v2_status["conditions"] = [
            {k: c.get(k.lower()) for k in ("type", "status", "lastTransitionTime", "reason",
                                           "message") if c.get(k.lower()) is not None
             or k == "lastTransitionTime"} for c in conditions]
    _drop_round_trip(meta)
    out: Obj = {"apiVersion": V2}
    for key, value in obj.items():
        if key == "metadata":
            out[key] = meta
        elif key not in ("apiVersion", "spec", "status"):
            out[key] = value
    out.setdefault("kind", KIND)
    out["spec"] = v2_spec
    out["status"] = v2_status
    if stored:
        _default_v2(out)
    return out


# --- defaults -----------------------------------------------------------------------------

_SCALE_UP: Obj = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15},
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN: Obj = {"selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _rules(given: Any, defaults: Obj) -> Obj:
    """``GenerateHPAScale{Up,Down}Rules``: the defaults, each field the client set kept."""
    out = copy.deepcopy(defaults)
    if isinstance(given, dict):
        out.update({k: v for k, v in given.items() if v is not None})
    return out


def _canonical_quantities(metrics: Any, part: str) -> None:
    """The quantities of each metric's ``part`` (target or current) as the server
    writes them."""
    for metric in _list(metrics):
        for source in _dict(metric).values():
            values = _dict(source).get(part) if isinstance(source, dict) else None
            for key in ("value", "averageValue"):
                if isinstance(values, dict) and isinstance(values.get(key), str):
                    values[key] = canonical(values[key])


def _default_v2(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    _canonical_quantities(spec.get("metrics"), "target")
    _canonical_quantities(_dict(obj.get("status")).get("currentMetrics"), "current")
    for rules in _dict(spec.get("behavior")).values():
        if isinstance(rules, dict) and isinstance(rules.get("tolerance"), str):
            rules["tolerance"] = canonical(rules["tolerance"])
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _rules(behavior.get("scaleUp"), _SCALE_UP)
        behavior["scaleDown"] = _rules(behavior.get("scaleDown"), _SCALE_DOWN)


def default(obj: Obj, version: str) -> None:
    """The decoder's work on a write body of ``version``, in place: the version's
    defaults, and what its conversion to the internal type adds (a v1 body without a
    CPU target or other metrics gets the default target) or drops (a v2 body's
    round-trip annotations)."""
    meta = obj.get("metadata")
    if version == "v2":
        if isinstance(meta, dict):
            _drop_round_trip(meta)
        _default_v2(obj)
        status = obj.get("status")
        if isinstance(status, dict):  # fields Go writes at zero
            status.setdefault("desiredReplicas", 0)
            status.setdefault("currentMetrics", None)
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if spec.get("targetCPUUtilizationPercentage") is None and not _annotation_list(
            _dict(_dict(meta).get("annotations")), METRIC_SPECS):
        # the conversion's default metric, which the v1 object then shows
        spec["targetCPUUtilizationPercentage"] = DEFAULT_CPU_UTILIZATION


def field_manager_view(obj: Obj) -> Obj:
    """What the field manager compares of a write: the decoded object converted back to
    the request's version (a v1 object then carries the annotations its conversion
    writes); a v2 object is itself."""
    if obj.get("apiVersion") != V1:
        return obj
    return to_v1(to_v2(obj, stored=False))


#: converters by (from version, to version)
_CONVERTERS: dict[tuple[str, str], Callable[[Obj], Obj]] = {
    ("autoscaling/v1", "autoscaling/v2"): to_v2,
    ("autoscaling/v2", "autoscaling/v1"): to_v1,
}


def convert(obj: Obj, api_version: str) -> Obj:
    """``obj`` in ``api_version`` (a new object; ``obj`` itself when already there)."""
    source = obj.get("apiVersion")
    if source == api_version:
        return obj
    converter = _CONVERTERS.get((str(source), api_version))
    if converter is None:
        return {**obj, "apiVersion": api_version}
    return converter(obj)
