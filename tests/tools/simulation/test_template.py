"""The template reader: our policy comes from the synthesized resources, and gaps are one clear line."""

from __future__ import annotations

import copy

import pytest

from llm_async.endpoint import metrics
from llm_async_tools.cfn_template import TemplateError
from llm_async_tools.simulation.model import MetricMath, MetricQuery, ModelCapacity, ScalingModel
from llm_async_tools.simulation.template import read_scaling_model
from tests.synths import Synthesized


def _policy(model: ScalingModel, prefix: str):
    (policy,) = [p for p in model.step_policies if p.name.startswith(prefix)]
    return policy


def test_sandbox_policy_is_read_from_the_template(ours: ScalingModel) -> None:
    assert (ours.instance_type, ours.usd_per_hour) == ("ml.g5.2xlarge", 1.515)
    # Concurrency 84: the KV cache of the default model on TGI holds 84 requests of a typical prompt and the API's
    # default budget, 1,155 + 512 tokens (capacity.py).
    assert (ours.min_capacity, ours.max_capacity, ours.concurrency_per_instance, ours.request_ttl_s) == (0, 1, 84, 21600)
    assert ours.default_new_tokens == 512
    wake = _policy(ours, "ScalingWakePolicy")
    assert wake.alarm.query == MetricQuery("HasBacklogWithoutCapacity", "Maximum", 60)
    assert (wake.alarm.comparison, wake.alarm.threshold, wake.alarm.treat_missing_data) == (
        "GreaterThanOrEqualToThreshold", 1, "notBreaching")
    assert (wake.adjustment_type, wake.cooldown_s, wake.steps[0].scaling_adjustment) == ("ChangeInCapacity", 1500, 1)
    idle = _policy(ours, "ScalingScaleInWhenIdlePolicy")
    assert isinstance(idle.alarm.query, MetricMath)
    assert idle.alarm.query.expression == "IF(FILL(instances, 0) > 0, backlog, 1)"
    backlog = idle.alarm.query.input("backlog")
    assert isinstance(backlog, MetricMath) and backlog.input("queued") == MetricQuery("ApproximateBacklogSize", "Maximum", 60)
    assert idle.alarm.query.input("instances") == MetricQuery("CPUUtilization", "SampleCount", 60, metrics.INSTANCE_NAMESPACE)
    # The default idle window: 3 minutes, M of M.
    assert (idle.alarm.evaluation_periods, idle.alarm.datapoints_to_alarm, idle.alarm.treat_missing_data) == (3, 3, "notBreaching")
    assert (idle.adjustment_type, idle.steps[0].scaling_adjustment, idle.steps[0].upper_bound) == ("ExactCapacity", 0, 0)
    assert ours.wake_alarm == wake.alarm.name
    assert not ours.target_tracking and not ours.scheduled_actions
    assert ours.capacity == ModelCapacity("tgi", 1, 15_231_233_024, 57_344, 4096, 8192, 1155, 8_035_162_214, 128)


def test_prod_policy_has_scale_out_and_warm_window(prod: Synthesized) -> None:
    model = read_scaling_model(prod.template_json)
    assert model.max_capacity == 3
    assert _policy(model, "ScalingScaleOutPolicy").alarm.query == MetricQuery("ApproximateBacklogSizePerInstance", "Average", 60)
    gradual = _policy(model, "ScalingScaleInGraduallyPolicy")
    assert isinstance(gradual.alarm.query, MetricMath)
    # The instances 84 requests each need (the scale-out threshold follows the concurrency), after 2 minutes.
    assert gradual.alarm.query.expression == "IF(FILL(instances, 0) > 1, IF(backlog > 84, CEIL(backlog / 84), 1), 3)"
    assert (gradual.alarm.comparison, gradual.alarm.threshold, gradual.alarm.evaluation_periods) == ("LessThanThreshold", 2.5, 2)
    assert [(s.scaling_adjustment, s.lower_bound, s.upper_bound) for s in gradual.steps] == [(1, None, -1), (2, -1, 0)]
    assert (gradual.adjustment_type, gradual.aggregation) == ("ExactCapacity", "Maximum")
    assert [(a.schedule, a.timezone, a.min_capacity) for a in model.scheduled_actions] == [
        ("cron(0 8 ? * MON-FRI *)", "America/New_York", 1),
        ("cron(0 18 ? * MON-FRI *)", "America/New_York", 0),
    ]


def _without(template: dict, resource_type: str) -> dict:
    broken = copy.deepcopy(template)
    broken["Resources"] = {k: r for k, r in broken["Resources"].items() if r["Type"] != resource_type}
    return broken


@pytest.mark.parametrize(
    ("resource_type", "message"),
    [
        ("AWS::ApplicationAutoScaling::ScalableTarget",
         "template has 0 AWS::ApplicationAutoScaling::ScalableTarget resources, expected exactly one"),
        ("AWS::SageMaker::EndpointConfig", "template has 0 AWS::SageMaker::EndpointConfig resources, expected exactly one"),
        ("AWS::Lambda::Function",
         "template has 0 AWS::Lambda::Function with the inference API's environment (ENGINE, BUCKET_NAME, ENDPOINT_NAME,"
         " WAKE_ALARM_NAME, REQUEST_TTL_SECONDS, INVOCATION_TIMEOUT_SECONDS, MAX_BODY_BYTES, MAX_INPUTS_BYTES,"
         " MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS, DEFAULT_MAX_NEW_TOKENS, MAX_NEW_TOKENS, POWERTOOLS_METRICS_NAMESPACE,"
         " POWERTOOLS_SERVICE_NAME), expected exactly one"),
        ("AWS::CloudWatch::Alarm", "template has no AWS::ApplicationAutoScaling::ScalingPolicy with an alarm that invokes it"),
    ],
)
def test_a_missing_resource_is_named(sandbox: Synthesized, resource_type: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        read_scaling_model(_without(sandbox.template_json, resource_type))
    assert str(error.value) == message


def test_missing_concurrency_is_named(sandbox: Synthesized) -> None:
    broken = copy.deepcopy(sandbox.template_json)
    for resource in broken["Resources"].values():
        if resource["Type"] == "AWS::SageMaker::EndpointConfig":
            del resource["Properties"]["AsyncInferenceConfig"]["ClientConfig"]
    with pytest.raises(TemplateError, match="^the endpoint config has no AsyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance$"):
        read_scaling_model(broken)


def _idle_expression(template: dict, expression: str) -> dict:
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        for query in resource.get("Properties", {}).get("Metrics", []):
            if query.get("ReturnData"):
                query["Expression"] = expression
    return changed


def test_unmodelled_metric_math_is_refused(sandbox: Synthesized) -> None:
    with pytest.raises(TemplateError, match=r"uses metric math 'RATE\(queued\)': function RATE in 'RATE\(queued\)'; the"
                       r" simulator models IF, FILL, CEIL, FLOOR, ABS$"):
        read_scaling_model(_idle_expression(sandbox.template_json, "RATE(queued)"))


def test_metric_math_reading_an_unknown_id_is_refused(sandbox: Synthesized) -> None:
    with pytest.raises(TemplateError, match=r"metric math reads 'nowhere', which is not one of its metric queries$"):
        read_scaling_model(_idle_expression(sandbox.template_json, "backlog + nowhere"))


def test_an_unmodelled_host_metric_statistic_is_refused(sandbox: Synthesized) -> None:
    broken = copy.deepcopy(sandbox.template_json)
    for resource in broken["Resources"].values():
        for query in resource.get("Properties", {}).get("Metrics", []):
            if query["Id"] == "instances":
                query["MetricStat"]["Stat"] = "Average"
    with pytest.raises(TemplateError, match=r"uses metric /aws/sagemaker/Endpoints/CPUUtilization; the simulator models"):
        read_scaling_model(broken)


@pytest.mark.parametrize("budget", ["many", "0", "-5", ""])
def test_a_bad_default_budget_is_named(sandbox: Synthesized, budget: str) -> None:
    broken = copy.deepcopy(sandbox.template_json)
    for resource in broken["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if "DEFAULT_MAX_NEW_TOKENS" in variables:
            variables["DEFAULT_MAX_NEW_TOKENS"] = budget
    with pytest.raises(TemplateError) as error:
        read_scaling_model(broken)
    assert str(error.value) == f"the API's DEFAULT_MAX_NEW_TOKENS is {budget!r}, expected a whole number > 0"
