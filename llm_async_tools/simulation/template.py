"""A synthesized template → the `ScalingModel` it would deploy, so the simulator never keeps a copy of our policy.

Reads the scalable target (capacity bounds, scheduled actions), its scaling policies and the alarms that
invoke them, the endpoint config's instance type and per-instance concurrency, the inference API's
Lambda environment (request TTL, which alarm a request forces when it finds no instance, the engine, the default
budget of new tokens), and the
model's metadata: its weights (where a new instance gets them from and how large they are) and its capacity (what
the batching model needs: weights, KV cache, engine limits). Older templates have neither, and the simulation then
uses documented defaults.
"""

from __future__ import annotations

from typing import Any

from llm_async.api.runtime.inference_api.contract import HANDLER, VARIABLES
from llm_async.endpoint import metrics
from llm_async.model.capacity import CAPACITY_METADATA
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.model.staged import WEIGHTS_METADATA
from llm_async_tools.cfn_template import TemplateError, only, resources_of_type
from llm_async_tools.simulation.expressions import ExpressionError, parse, references
from llm_async_tools.simulation.model import (
    ASYNC_METRICS,
    COMPARISONS,
    INSTANCE_METRIC,
    INSTANCE_STATISTIC,
    STATISTICS,
    TREAT_MISSING_DATA,
    Alarm,
    MetricMath,
    MetricQuery,
    ModelCapacity,
    ScalingModel,
    ScheduledAction,
    StepAdjustment,
    StepPolicy,
    TargetTrackingPolicy,
)
from llm_async_tools.simulation.parameters import ENGINE_START_S, WEIGHTS_SOURCES

_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
_POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"
_ALARM = "AWS::CloudWatch::Alarm"
_MODEL = "AWS::SageMaker::Model"
# LlmAsync::Capacity's keys (llm_async.model.capacity.capacity_metadata) and the ModelCapacity field each fills.
_CAPACITY_FIELDS = {
    "Engine": "engine", "NumGpus": "num_gpus", "WeightsBytes": "weights_bytes", "KvBytesPerToken": "kv_bytes_per_token",
    "MaxInputTokens": "max_input_tokens", "MaxTotalTokens": "max_total_tokens",
    "TypicalPromptTokens": "typical_prompt_tokens", "KvCacheBytes": "kv_cache_bytes", "EngineLimit": "engine_limit",
}


def read_scaling_model(template: dict[str, Any], *, name: str = "ours", usd_per_hour: float | None = None) -> ScalingModel:
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        raise TemplateError("template has no Resources section")
    target = only(resources, _TARGET)
    instance_type, concurrency, model_ref = _endpoint_variant(resources)
    ttl_s, wake_ref, engine, default_new_tokens = _api_environment(resources)
    weights_source, weights_bytes = _weights(resources, model_ref)
    capacity = _capacity(resources, model_ref)
    alarms = resources_of_type(resources, _ALARM)
    step_policies: list[StepPolicy] = []
    target_tracking: list[TargetTrackingPolicy] = []
    for logical_id, policy in resources_of_type(resources, _POLICY).items():
        if policy.get("PolicyType") == "TargetTrackingScaling":
            target_tracking.append(_target_tracking(logical_id, policy))
            continue
        triggers = [(alarm_id, a) for alarm_id, a in alarms.items() if _invokes(a, logical_id)]
        step_policies.extend(_step_policy(logical_id, policy, alarm_id, a) for alarm_id, a in triggers)
    if not step_policies and not target_tracking:
        raise TemplateError(f"template has no {_POLICY} with an alarm that invokes it")
    if wake_ref is not None and wake_ref not in alarms:
        raise TemplateError(f"the API's wake alarm ({VARIABLES['wake_alarm_name']}) refers to {wake_ref}, which is not an {_ALARM} of the template")
    return ScalingModel(
        name=name,
        instance_type=instance_type,
        usd_per_hour=usd_per_hour if usd_per_hour is not None else _price(instance_type),
        min_capacity=int(target["MinCapacity"]),
        max_capacity=int(target["MaxCapacity"]),
        concurrency_per_instance=concurrency,
        request_ttl_s=ttl_s,
        step_policies=tuple(step_policies),
        target_tracking=tuple(target_tracking),
        scheduled_actions=tuple(_scheduled(a) for a in target.get("ScheduledActions", [])),
        wake_alarm=wake_ref,
        engine=engine,
        default_new_tokens=default_new_tokens,
        weights_source=weights_source,
        weights_bytes=weights_bytes,
        capacity=capacity,
    )


def _endpoint_variant(resources: dict[str, Any]) -> tuple[str, int, str | None]:
    """Instance type, per-instance concurrency, and the logical id of the model the variant serves (if a reference)."""
    config = only(resources, "AWS::SageMaker::EndpointConfig")
    variants = config.get("ProductionVariants", [])
    if len(variants) != 1:
        raise TemplateError(f"the endpoint config has {len(variants)} production variants, expected exactly one")
    concurrency = config.get("AsyncInferenceConfig", {}).get("ClientConfig", {}).get("MaxConcurrentInvocationsPerInstance")
    if concurrency is None:
        raise TemplateError("the endpoint config has no AsyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance")
    model = variants[0].get("ModelName")
    # CDK writes {"Fn::GetAtt": [id, "ModelName"]}; a hand-written template may name the model as a plain string.
    model_ref = model["Fn::GetAtt"][0] if isinstance(model, dict) and "Fn::GetAtt" in model else None
    return variants[0]["InstanceType"], int(concurrency), model_ref


def _api_environment(resources: dict[str, Any]) -> tuple[int, str | None, str, int]:
    """The request TTL the API sends with every invocation, the wake alarm it may force (a Ref), the engine, and the
    budget of new tokens it forwards when a request names none."""
    # The inference API's function: its environment is the construct's contract with its Lambda, and its handler is the
    # inference API's (the batch Lambdas share the request variables; a hand-written template may name no handler).
    api = [
        env
        for function in resources_of_type(resources, "AWS::Lambda::Function").values()
        if set(VARIABLES.values()) <= set(env := function.get("Environment", {}).get("Variables", {}))
        and function.get("Handler", HANDLER) == HANDLER
    ]
    if len(api) != 1:
        raise TemplateError(
            f"template has {len(api)} AWS::Lambda::Function with the inference API's environment"
            f" ({', '.join(VARIABLES.values())}), expected exactly one"
        )
    wake = api[0][VARIABLES["wake_alarm_name"]]
    engine = api[0][VARIABLES["engine"]]
    if engine not in ENGINE_START_S:
        raise TemplateError(f"the API's {VARIABLES['engine']} is {engine!r}; the simulator knows the start time of {', '.join(ENGINE_START_S)}")
    budget = api[0][VARIABLES["default_max_new_tokens"]]
    if isinstance(budget, bool) or not str(budget).isdigit() or int(budget) <= 0:
        raise TemplateError(f"the API's {VARIABLES['default_max_new_tokens']} is {budget!r}, expected a whole number > 0")
    ttl_s = int(api[0][VARIABLES["request_ttl_s"]])
    return ttl_s, (wake["Ref"] if isinstance(wake, dict) and "Ref" in wake else None), engine, int(budget)


def _weights(resources: dict[str, Any], model_ref: str | None) -> tuple[str | None, int | None]:
    """The served model's weights metadata: (source, bytes), each None where the template does not say.

    The model is the one the endpoint config's variant references, else the template's only model.
    """
    model_id, metadata = _model_metadata(resources, model_ref, WEIGHTS_METADATA)
    if metadata is None:
        return None, None
    owner = f"{_MODEL} {model_id} metadata {WEIGHTS_METADATA}"
    if not isinstance(metadata, dict):
        raise TemplateError(f"{owner} is not an object")
    source, size = metadata.get("Source"), metadata.get("Bytes")
    if source not in WEIGHTS_SOURCES:
        raise TemplateError(f"{owner} has Source {source!r}, expected one of {', '.join(WEIGHTS_SOURCES)}")
    # bool is an int in Python; a size of True is a template bug, not one byte.
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise TemplateError(f"{owner} has Bytes {size!r}, expected a whole number of bytes > 0 or null")
    return source, size


def _model_metadata(resources: dict[str, Any], model_ref: str | None, key: str) -> tuple[str | None, Any]:
    """The served model's logical id and its metadata entry `key` (None: no such model or entry)."""
    models = {k: r for k, r in resources.items() if r.get("Type") == _MODEL}
    model_id = model_ref if model_ref in models else (next(iter(models)) if len(models) == 1 else None)
    if model_id is None:
        return None, None
    return model_id, models[model_id].get("Metadata", {}).get(key)


def _capacity(resources: dict[str, Any], model_ref: str | None) -> ModelCapacity | None:
    """The served model's capacity metadata; each value a whole number > 0 (the engine a name) or null."""
    model_id, metadata = _model_metadata(resources, model_ref, CAPACITY_METADATA)
    if metadata is None:
        return None
    owner = f"{_MODEL} {model_id} metadata {CAPACITY_METADATA}"
    if not isinstance(metadata, dict):
        raise TemplateError(f"{owner} is not an object")
    values: dict[str, Any] = {}
    for key, field_name in _CAPACITY_FIELDS.items():
        value = metadata.get(key)
        if key == "Engine":
            if value is not None and value not in ENGINE_START_S:
                raise TemplateError(f"{owner} has Engine {value!r}, expected one of {', '.join(ENGINE_START_S)} or null")
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            # KvCacheBytes of 0 is the construct saying nothing fits; the batching model cannot run on it either.
            raise TemplateError(f"{owner} has {key} {value!r}, expected a whole number > 0 or null")
        values[field_name] = value
    return ModelCapacity(**values)


def _price(instance_type: str) -> float:
    if instance_type not in GPU_INSTANCE_TYPES:
        raise TemplateError(f"no hourly price for instance type {instance_type}: pass --usd-per-hour")
    return GPU_INSTANCE_TYPES[instance_type].usd_per_hour


def _invokes(alarm: dict[str, Any], policy_id: str) -> bool:
    return any(isinstance(a, dict) and a.get("Ref") == policy_id for a in alarm.get("AlarmActions", []))


def _step_policy(policy_id: str, policy: dict[str, Any], alarm_id: str, alarm: dict[str, Any]) -> StepPolicy:
    config = policy.get("StepScalingPolicyConfiguration")
    if not config:
        raise TemplateError(f"{_POLICY} {policy_id} has no StepScalingPolicyConfiguration")
    steps = tuple(
        StepAdjustment(
            scaling_adjustment=int(s["ScalingAdjustment"]),
            lower_bound=s.get("MetricIntervalLowerBound"),
            upper_bound=s.get("MetricIntervalUpperBound"),
        )
        for s in config.get("StepAdjustments", [])
    )
    if not steps:
        raise TemplateError(f"{_POLICY} {policy_id} has no StepAdjustments")
    return StepPolicy(
        name=policy_id,
        alarm=_alarm(alarm_id, alarm),
        adjustment_type=config["AdjustmentType"],
        steps=steps,
        # Application Auto Scaling's default cooldown for SageMaker variants (API reference).
        cooldown_s=int(config.get("Cooldown", 300)),
        aggregation=config.get("MetricAggregationType", "Average"),
        min_adjustment_magnitude=config.get("MinAdjustmentMagnitude"),
    )


def _target_tracking(policy_id: str, policy: dict[str, Any]) -> TargetTrackingPolicy:
    config = policy.get("TargetTrackingScalingPolicyConfiguration", {})
    metric = config.get("CustomizedMetricSpecification")
    if metric is None:
        raise TemplateError(
            f"{_POLICY} {policy_id} tracks a predefined metric; async endpoints publish none of them"
            " (use a CustomizedMetricSpecification on an async metric)"
        )
    return TargetTrackingPolicy(
        name=policy_id,
        query=_query(policy_id, metric["Namespace"], metric["MetricName"], metric["Statistic"], 60),
        target_value=float(config["TargetValue"]),
        scale_out_cooldown_s=int(config.get("ScaleOutCooldown", 300)),
        scale_in_cooldown_s=int(config.get("ScaleInCooldown", 300)),
        disable_scale_in=bool(config.get("DisableScaleIn", False)),
    )


def _alarm(alarm_id: str, alarm: dict[str, Any]) -> Alarm:
    comparison = alarm.get("ComparisonOperator")
    if comparison not in COMPARISONS:
        raise TemplateError(f"{_ALARM} {alarm_id} has ComparisonOperator {comparison!r}; the simulator models {', '.join(COMPARISONS)}")
    treat = alarm.get("TreatMissingData", "missing")
    if treat not in TREAT_MISSING_DATA:
        raise TemplateError(f"{_ALARM} {alarm_id} has TreatMissingData {treat!r}")
    periods = int(alarm["EvaluationPeriods"])
    return Alarm(
        name=alarm_id,
        query=_alarm_query(alarm_id, alarm),
        comparison=comparison,
        threshold=float(alarm["Threshold"]),
        evaluation_periods=periods,
        datapoints_to_alarm=int(alarm.get("DatapointsToAlarm", periods)),
        treat_missing_data=treat,
    )


def _alarm_query(alarm_id: str, alarm: dict[str, Any]) -> MetricQuery | MetricMath:
    if "MetricName" in alarm:
        return _query(alarm_id, alarm.get("Namespace"), alarm["MetricName"], alarm.get("Statistic"), int(alarm["Period"]))
    queries = {q["Id"]: q for q in alarm.get("Metrics", [])}
    returned = [q for q in queries.values() if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise TemplateError(f"{_ALARM} {alarm_id} has neither a metric nor exactly one metric query that returns data")
    return _metric_query(alarm_id, queries, returned[0]["Id"], ())


def _metric_query(alarm_id: str, queries: dict[str, Any], id_: str, reading: tuple[str, ...]) -> MetricQuery | MetricMath:
    """The alarm's metric query `id_`: a metric statistic, or an expression over other queries (read recursively)."""
    if id_ in reading:
        raise TemplateError(f"{_ALARM} {alarm_id}: metric query {id_} refers to itself ({' → '.join([*reading, id_])})")
    query = queries.get(id_)
    if query is None:
        raise TemplateError(f"{_ALARM} {alarm_id}: metric math reads {id_!r}, which is not one of its metric queries")
    if "MetricStat" in query:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        return _query(alarm_id, metric.get("Namespace"), metric["MetricName"], stat["Stat"], int(stat["Period"]))
    expression = query.get("Expression")
    if expression is None:
        raise TemplateError(f"{_ALARM} {alarm_id}: metric query {id_} has neither MetricStat nor Expression")
    try:
        tree = parse(expression)
    except ExpressionError as error:
        raise TemplateError(f"{_ALARM} {alarm_id} uses metric math {expression!r}: {error}") from None
    inputs = tuple((ref, _metric_query(alarm_id, queries, ref, (*reading, id_))) for ref in sorted(references(tree)))
    periods = {q.period_s for _, q in inputs}
    if len(periods) > 1:
        raise TemplateError(f"{_ALARM} {alarm_id}: metric math {expression!r} mixes periods {sorted(periods)}")
    # An expression of constants alone has no period of its own: CloudWatch gives it the alarm's (one minute here).
    return MetricMath(expression, tree, inputs, period_s=periods.pop() if periods else 60)


def _query(owner: str, namespace: str | None, metric: str, statistic: str | None, period_s: int) -> MetricQuery:
    instances = (metrics.INSTANCE_NAMESPACE, INSTANCE_METRIC, INSTANCE_STATISTIC)
    if (namespace, metric, statistic) != instances:
        if namespace != metrics.NAMESPACE or metric not in ASYNC_METRICS:
            raise TemplateError(
                f"{owner} uses metric {namespace}/{metric}; the simulator models {metrics.NAMESPACE} {', '.join(ASYNC_METRICS)}"
                f" and {'/'.join(instances[:2])} {INSTANCE_STATISTIC} (instances in service)"
            )
        if statistic not in STATISTICS:
            raise TemplateError(f"{owner} uses statistic {statistic!r} of {metric}; the simulator models {', '.join(STATISTICS)}")
    if period_s % 60:
        raise TemplateError(f"{owner} has a {period_s} s period; the simulator models whole minutes")
    return MetricQuery(metric_name=metric, statistic=statistic, period_s=period_s, namespace=namespace)


def _scheduled(action: dict[str, Any]) -> ScheduledAction:
    bounds = action.get("ScalableTargetAction", {})
    return ScheduledAction(
        name=action["ScheduledActionName"],
        schedule=action["Schedule"],
        timezone=action.get("Timezone", "UTC"),
        min_capacity=bounds.get("MinCapacity"),
        max_capacity=bounds.get("MaxCapacity"),
    )
