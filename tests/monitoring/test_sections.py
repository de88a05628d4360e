"""The endpoint's and the API's monitoring sections over real collaborators: each paging alarm's metric (namespace,
dimensions, statistic, period), threshold, comparison and missing-data treatment; each dashboard row's metrics."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from llm_async.deployment import DeploymentConfig
from llm_async.environments import ENVIRONMENTS
from llm_async.monitoring.sections import AlarmSpec, Section, api_section, endpoint_section
from tests.constructs import Parts, bare_stack, template
from tests.monitoring.dashboard import dashboard_body, graph_metrics

ENDPOINT = {"EndpointName": "llm-async-prod-g5-2xlarge"}
PER_VARIANT = {**ENDPOINT, "VariantName": "AllTraffic"}
API_5XX_THRESHOLD = 5


@dataclasses.dataclass(frozen=True)
class Built:
    stack: cdk.Stack
    parts: Parts
    config: DeploymentConfig
    endpoint: Section
    api: Section
    rows: dict[str, list[list[dict[str, Any]]]]
    """Each section's rows as the dashboard renders them (widgets as JSON, references as `<LogicalId>`)."""

    def id_(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def alarm(self, section: Section, id_: str) -> dict[str, Any]:
        (spec,) = [spec for spec in section.alarms if spec.id_ == id_]
        return _shape(self.stack, spec)

    def widget(self, section: str, title: str) -> dict[str, Any]:
        (widget,) = [w for row in self.rows[section] for w in row if w["properties"].get("title") == title]
        return widget


def _shape(stack: cdk.Stack, spec: AlarmSpec) -> dict[str, Any]:
    metric = spec.metric
    assert isinstance(metric, cloudwatch.Metric)
    return {
        "Namespace": metric.namespace,
        "MetricName": metric.metric_name,
        "Dimensions": stack.resolve(metric.dimensions),
        "Statistic": metric.statistic,
        "Period": metric.period.to_seconds(),
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison,
        "TreatMissingData": spec.treat_missing_data,
    }


def _rendered_rows(stack: cdk.Stack, sections: dict[str, Section]) -> dict[str, list[list[dict[str, Any]]]]:
    """Each section's rows in a dashboard of its own, synthesized once."""
    dashboards = {
        name: cloudwatch.Dashboard(stack, f"{name}Rows", widgets=section.rows) for name, section in sections.items()
    }
    synthesized = template(stack).find_resources("AWS::CloudWatch::Dashboard")
    rendered = {}
    for name, dashboard in dashboards.items():
        by_row: dict[int, list[dict[str, Any]]] = {}
        for widget in dashboard_body(synthesized[stack.get_logical_id(dashboard.node.default_child)])["widgets"]:
            by_row.setdefault(widget["y"], []).append(widget)
        rendered[name] = [by_row[y] for y in sorted(by_row)]
    return rendered


@pytest.fixture(scope="module")
def prod() -> Built:
    """The prod configuration: 0–3 instances, so all three scaling alarms exist."""
    stack = bare_stack()
    config = ENVIRONMENTS["prod"]()
    parts = Parts(stack, config)
    endpoint = endpoint_section(
        parts.endpoint,
        parts.scaling,
        expected_wake_s=config.expected_wake_s,
        min_capacity=config.scaling.min_capacity,
        max_capacity=config.scaling.max_capacity,
    )
    api = api_section(parts.api, api_5xx_threshold=API_5XX_THRESHOLD)
    return Built(stack, parts, config, endpoint, api, _rendered_rows(stack, {"endpoint": endpoint, "api": api}))


def _count_alarm(namespace: str, metric: str, dimensions: dict[str, Any], threshold: int = 1) -> dict[str, Any]:
    """Any event in 5 minutes; no datapoint means no event (these counts are only published when one happens)."""
    return {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": dimensions,
        "Statistic": "Sum",
        "Period": 300,
        "Threshold": threshold,
        "ComparisonOperator": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        "TreatMissingData": cloudwatch.TreatMissingData.NOT_BREACHING,
    }


# The endpoint's section.


def test_the_endpoint_pages_when_stuck_and_on_sagemaker_failures(prod: Built) -> None:
    assert [spec.id_ for spec in prod.endpoint.alarms] == [
        "StuckAtZero",
        "InvocationFailures",
        "NotificationFailures",
        "ExpiredRequests",
    ]


def test_stuck_at_zero_when_a_request_waits_longer_than_a_cold_start(prod: Built) -> None:
    assert prod.alarm(prod.endpoint, "StuckAtZero") == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "ApproximateAgeOfOldestRequest",
        # A queue metric: SageMaker publishes it per endpoint, without the variant.
        "Dimensions": ENDPOINT,
        "Statistic": "Maximum",
        "Period": 60,
        # Startup budget (300 s provisioning + 600 s download + 600 s health check) + the 300 s margin.
        "Threshold": 1800,
        "ComparisonOperator": cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        # No age without a waiting request: an idle endpoint at zero is not stuck.
        "TreatMissingData": cloudwatch.TreatMissingData.NOT_BREACHING,
    }
    assert prod.config.expected_wake_s == 1800


@pytest.mark.parametrize("metric", ["InvocationFailures", "NotificationFailures", "ExpiredRequests"])
def test_sagemaker_failure_alarms_fire_on_any_failure(prod: Built, metric: str) -> None:
    assert prod.alarm(prod.endpoint, metric) == _count_alarm("AWS/SageMaker", metric, PER_VARIANT)


@pytest.mark.parametrize("spec", ["StuckAtZero", "InvocationFailures", "NotificationFailures", "ExpiredRequests"])
def test_each_endpoint_alarm_says_what_to_check_first(prod: Built, spec: str) -> None:
    (alarm,) = [a for a in prod.endpoint.alarms if a.id_ == spec]
    assert "First check" in alarm.description


def test_the_header_names_the_endpoint_capacity_and_stuck_threshold(prod: Built) -> None:
    assert prod.endpoint.header.startswith(
        "# llm-async-prod-g5-2xlarge\nAsync endpoint, variant `AllTraffic`, 0–3 instances."
    )
    assert "longer than **1800 s** pages" in prod.endpoint.header
    assert "docs/operations.md" in prod.endpoint.header


def test_the_scaling_alarms_are_watched_not_paged(prod: Built) -> None:
    scaling = prod.parts.scaling
    assert prod.endpoint.watched_alarms == [
        scaling.wake_alarm, scaling.scale_out_alarm, scaling.scale_in_alarm, scaling.idle_alarm
    ]
    assert {spec.id_ for spec in prod.endpoint.alarms}.isdisjoint({"Wake", "ScaleOut", "ScaleInGradually", "ScaleInWhenIdle"})


def test_endpoint_rows_are_the_queue_then_processing(prod: Built) -> None:
    assert [[w["properties"]["title"] for w in row] for row in prod.rows["endpoint"]] == [
        ["Backlog", "Age of oldest request (s)", "Instances vs. demand"],
        ["Invocations processed", "Failures and expired requests", "Model latency and total processing time (s)"],
    ]


def test_queue_metrics_are_charted_per_endpoint(prod: Built) -> None:
    charted = {
        (metric, frozenset(dimensions.items()), options.get("stat", "Average"))
        for title in ("Backlog", "Age of oldest request (s)", "Instances vs. demand")
        for namespace, metric, dimensions, options in graph_metrics(prod.widget("endpoint", title))
        if namespace == "AWS/SageMaker"
    }
    endpoint = frozenset(ENDPOINT.items())
    assert charted == {
        ("ApproximateBacklogSize", endpoint, "Maximum"),
        ("ApproximateBacklogSizePerInstance", endpoint, "Average"),
        ("ApproximateAgeOfOldestRequest", endpoint, "Maximum"),
        ("HasBacklogWithoutCapacity", endpoint, "Maximum"),
    }


def test_running_instances_are_the_cpu_sample_count(prod: Built) -> None:
    # AWS's documented count: CPUUtilization's per-minute SampleCount, one sample per running instance.
    widget = prod.widget("endpoint", "Instances vs. demand")
    assert ("/aws/sagemaker/Endpoints", "CPUUtilization", PER_VARIANT, "SampleCount") in [
        (namespace, metric, dimensions, options.get("stat"))
        for namespace, metric, dimensions, options in graph_metrics(widget)
    ]
    assert widget["properties"]["annotations"]["horizontal"] == [{"value": 3, "label": "max capacity", "yAxis": "left"}]


def test_the_age_graph_marks_the_stuck_threshold(prod: Built) -> None:
    annotations = prod.widget("endpoint", "Age of oldest request (s)")["properties"]["annotations"]["horizontal"]
    assert annotations == [{"value": 1800, "label": "stuck at zero", "yAxis": "left"}]


def test_per_request_metrics_are_charted_per_variant(prod: Built) -> None:
    charted = {
        (metric, frozenset(dimensions.items()), options.get("stat"))
        for title in ("Invocations processed", "Failures and expired requests")
        for namespace, metric, dimensions, options in graph_metrics(prod.widget("endpoint", title))
        if namespace == "AWS/SageMaker"
    }
    variant = frozenset(PER_VARIANT.items())
    assert charted == {
        (metric, variant, "Sum")
        for metric in (
            "InvocationsProcessed",
            "InvocationsProcesssed",  # the AWS docs' spelling; see endpoint/metrics.py
            "InvocationFailures",
            "NotificationFailures",
            "RequestDownloadFailures",
            "ResponseUploadFailures",
            "ExpiredRequests",
        )
    }


def test_latencies_are_charted_in_seconds(prod: Built) -> None:
    rows = prod.widget("endpoint", "Model latency and total processing time (s)")["properties"]["metrics"]
    expressions = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
    # ModelLatency is in microseconds, TotalProcessingTime in milliseconds.
    assert expressions == ["latency / 1000000", "total / 1000"]
    hidden = [(row[1], row[-1]["id"]) for row in rows if not isinstance(row[0], dict)]
    assert hidden == [("ModelLatency", "latency"), ("TotalProcessingTime", "total")]
    assert all(
        row[:6] == ["AWS/SageMaker", row[1], "EndpointName", ENDPOINT["EndpointName"], "VariantName", "AllTraffic"]
        for row in rows
        if not isinstance(row[0], dict)
    )


# The API's section.


def test_api_5xx_alarm_on_the_stage(prod: Built) -> None:
    stage = {"Ref": prod.id_(prod.parts.api.rest_api.deployment_stage)}
    dimensions = {"ApiName": "llm-async-prod-api", "Stage": stage}
    assert prod.alarm(prod.api, "Api5xx") == _count_alarm("AWS/ApiGateway", "5XXError", dimensions, API_5XX_THRESHOLD)


def test_lambda_errors_alarm(prod: Built) -> None:
    dimensions = {"FunctionName": {"Ref": prod.id_(prod.parts.api.function)}}
    assert prod.alarm(prod.api, "LambdaErrors") == _count_alarm("AWS/Lambda", "Errors", dimensions)


def test_the_api_pages_on_5xx_and_lambda_errors_only(prod: Built) -> None:
    assert [spec.id_ for spec in prod.api.alarms] == ["Api5xx", "LambdaErrors"]
    assert all("First check" in spec.description for spec in prod.api.alarms)
    assert (prod.api.header, prod.api.watched_alarms) == ("", [])


def test_api_rows_are_the_stage_and_function_then_the_outcomes(prod: Built) -> None:
    assert [[w["properties"]["title"] for w in row] for row in prod.rows["api"]] == [
        ["API requests and errors", "API latency (ms)", "Lambda errors, throttles (left) and duration in ms (right)"],
        ["API outcomes (the handler's metrics, per minute)"],
    ]


def test_stage_metrics_carry_the_api_name_and_stage(prod: Built) -> None:
    stage = f"<{prod.id_(prod.parts.api.rest_api.deployment_stage)}>"
    charted = {
        (namespace, metric, frozenset(dimensions.items()), options.get("stat"))
        for title in ("API requests and errors", "API latency (ms)")
        for namespace, metric, dimensions, options in graph_metrics(prod.widget("api", title))
    }
    api = frozenset({"ApiName": "llm-async-prod-api", "Stage": stage}.items())
    assert charted == {
        ("AWS/ApiGateway", metric, api, stat)
        for metric, stat in (
            ("Count", "Sum"),
            ("4XXError", "Sum"),
            ("5XXError", "Sum"),
            ("Latency", "p50"),
            ("Latency", "p99"),
            ("IntegrationLatency", "p99"),
        )
    }


def test_function_metrics_carry_the_function_name(prod: Built) -> None:
    function = frozenset({"FunctionName": f"<{prod.id_(prod.parts.api.function)}>"}.items())
    widget = prod.widget("api", "Lambda errors, throttles (left) and duration in ms (right)")
    charted = {
        (namespace, metric, frozenset(dimensions.items()), options.get("stat"), options.get("yAxis", "left"))
        for namespace, metric, dimensions, options in graph_metrics(widget)
    }
    assert charted == {
        ("AWS/Lambda", "Errors", function, "Sum", "left"),
        ("AWS/Lambda", "Throttles", function, "Sum", "left"),
        ("AWS/Lambda", "Duration", function, "p50", "right"),
        ("AWS/Lambda", "Duration", function, "Maximum", "right"),
    }


def test_the_outcomes_row_charts_the_five_handler_metrics_in_the_deployments_namespace(prod: Built) -> None:
    widget = prod.widget("api", "API outcomes (the handler's metrics, per minute)")
    assert [
        (namespace, metric, dimensions, options["stat"], options["period"])
        for namespace, metric, dimensions, options in graph_metrics(widget)
    ] == [
        ("llm-async-prod", metric, {"service": "llm-async-api"}, "Sum", 60)
        for metric in ("InferencesSubmitted", "WakeRequested", "StatusChecks", "RequestsRejected", "ServiceUnavailable")
    ]
    assert widget["width"] == 24
