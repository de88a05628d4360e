"""What the operations view watches, one section per concern: the alarms that page and the dashboard rows.

Dimensions are the ones each service publishes (an alarm on any other set never gets data): the endpoint's
metrics come from `AsyncEndpoint.metric*` (see `endpoint/metrics.py`), a REST API's carry `ApiName` and
`Stage`, a Lambda's `FunctionName`, the handler's custom metrics `service`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from llm_async.api.construct import InferenceApi
from llm_async.api.runtime.batch_jobs import contract as batch_contract
from llm_async.api.runtime.inference_api import contract
from llm_async.batch.construct import BatchJobs
from llm_async.endpoint import metrics
from llm_async.endpoint.construct import PERIOD, AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero

FIVE_MINUTES = cdk.Duration.minutes(5)
WIDE, THIRD = 24, 8
# SageMaker, API Gateway and Lambda publish a count only for a period in which something happened:
# no datapoint is no failure, no expiry, no error. (Should a service stop publishing, the alarm stays quiet.)
NO_DATA_IS_NO_EVENT = cloudwatch.TreatMissingData.NOT_BREACHING


@dataclass(frozen=True)
class AlarmSpec:
    """An alarm that pages the operations topic on its first breaching datapoint, and again when it clears."""

    id_: str
    """Also names the alarm: `<name>-<id in kebab case>`, e.g. llm-async-prod-stuck-at-zero."""
    description: str
    metric: cloudwatch.IMetric
    threshold: float = 1
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    treat_missing_data: cloudwatch.TreatMissingData = NO_DATA_IS_NO_EVENT
    """Right for the counts of events; an alarm on another kind of metric states its own, with its reason."""

    @property
    def slug(self) -> str:
        return re.sub(r"(?<=[a-z])(?=[A-Z0-9])", "-", self.id_).lower()


@dataclass
class Section:
    alarms: list[AlarmSpec]
    rows: list[list[cloudwatch.IWidget]]
    header: str = ""
    """Markdown for the dashboard's first row."""
    watched_alarms: list[cloudwatch.IAlarm] = field(default_factory=list)
    """Alarms another construct owns (scaling actions) that the alarm status row shows too."""


# Per-request SageMaker counts that page on any occurrence, with what to check first.
_SAGEMAKER_FAILURES = {
    metrics.INVOCATION_FAILURES: "Inferences failed. First check the failureReason in the error topic's message or in"
    " failure/<inference id>.out, then the endpoint's log group.",
    metrics.NOTIFICATION_FAILURES: "SageMaker could not publish an inference outcome to the success or error topic."
    " First check the execution role's sns:Publish and KMS grants and the topics' key policy.",
    metrics.EXPIRED_REQUESTS: "Requests expired in the queue at their RequestTTLSeconds without being processed."
    " First check whether the endpoint has instances and whether the stuck-at-zero alarm fired.",
}


def endpoint_section(
    endpoint: AsyncEndpoint, scaling: ScaleToZero, *, expected_wake_s: int, min_capacity: int, max_capacity: int
) -> Section:
    """The queue, the instances against demand, SageMaker's failures; pages when a request waits too long."""
    stuck = AlarmSpec(
        "StuckAtZero",
        f"A request has waited longer than a cold start may take ({expected_wake_s} s: provisioning,"
        " model download and load, margin): the endpoint is not waking or not keeping up. First check"
        " the instance count and the wake alarm on the dashboard.",
        endpoint.metric_age_of_oldest_request(),
        # No age without a waiting request: an idle endpoint at zero is not stuck.
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        threshold=expected_wake_s,
        comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    )
    failures = [
        AlarmSpec(name, description, endpoint.metric(name, statistic="Sum", period=FIVE_MINUTES))
        for name, description in _SAGEMAKER_FAILURES.items()
    ]
    header = (
        f"# {endpoint.endpoint_name}\nAsync endpoint, variant `{endpoint.variant_name}`, "
        f"{min_capacity}–{max_capacity} instances. A request waiting"
        f" longer than **{expected_wake_s} s** pages the operations topic (stuck at zero). What"
        " each alarm means and what to check first: docs/operations.md in the llm-async repository."
    )
    queue_row: list[cloudwatch.IWidget] = [
        cloudwatch.GraphWidget(
            title="Backlog",
            left=[
                endpoint.metric_backlog_size(label="backlog size"),
                endpoint.metric_backlog_size_per_instance(label="backlog per instance"),
            ],
            width=THIRD,
        ),
        cloudwatch.GraphWidget(
            title="Age of oldest request (s)",
            left=[endpoint.metric_age_of_oldest_request(label="oldest request age")],
            left_annotations=[cloudwatch.HorizontalAnnotation(value=expected_wake_s, label="stuck at zero")],
            width=THIRD,
        ),
        cloudwatch.GraphWidget(
            # SageMaker publishes no desired instance count (only DescribeEndpoint returns it, and Application
            # Auto Scaling publishes none). The closest: the running instances, and HasBacklogWithoutCapacity,
            # which is 1 exactly while work waits for an instance that is wanted but not there.
            title="Instances vs. demand",
            left=[
                endpoint.metric_instances_running(label="instances running (CPUUtilization samples)"),
                endpoint.metric_has_backlog_without_capacity(label="backlog without capacity (wants 1+)"),
            ],
            left_annotations=[cloudwatch.HorizontalAnnotation(value=max_capacity, label="max capacity")],
            left_y_axis=cloudwatch.YAxisProps(min=0),
            width=THIRD,
        ),
    ]
    processing_row: list[cloudwatch.IWidget] = [
        cloudwatch.GraphWidget(
            title="Invocations processed",
            left=[endpoint.metric(name, statistic="Sum", label=name) for name in metrics.INVOCATIONS_PROCESSED],
            width=THIRD,
        ),
        cloudwatch.GraphWidget(
            title="Failures and expired requests",
            left=[
                endpoint.metric(name, statistic="Sum", label=name)
                for name in (
                    metrics.INVOCATION_FAILURES,
                    metrics.NOTIFICATION_FAILURES,
                    metrics.REQUEST_DOWNLOAD_FAILURES,
                    metrics.RESPONSE_UPLOAD_FAILURES,
                    metrics.EXPIRED_REQUESTS,
                )
            ],
            width=THIRD,
        ),
        cloudwatch.GraphWidget(
            title="Model latency and total processing time (s)",
            left=[
                cloudwatch.MathExpression(
                    expression="latency / 1000000",
                    using_metrics={"latency": endpoint.metric(metrics.MODEL_LATENCY, statistic="Average")},
                    label="model latency",
                    period=PERIOD,
                ),
                cloudwatch.MathExpression(
                    expression="total / 1000",
                    using_metrics={"total": endpoint.metric(metrics.TOTAL_PROCESSING_TIME, statistic="Average")},
                    label="total processing time",
                    period=PERIOD,
                ),
            ],
            width=THIRD,
        ),
    ]
    scaling_alarms = [a for a in (scaling.wake_alarm, scaling.scale_out_alarm, scaling.scale_in_alarm, scaling.idle_alarm) if a]
    return Section([stuck, *failures], [queue_row, processing_row], header=header, watched_alarms=scaling_alarms)


# A graph series: a metric method of an L2 construct, its statistic, its label.
_Series = tuple[Callable[..., cloudwatch.Metric], str, str]


def api_section(api: InferenceApi, *, api_5xx_threshold: int) -> Section:
    """The API stage and its Lambda; pages on 5xx answers and on the Lambda's unhandled errors."""
    stage = api.rest_api.deployment_stage
    function = api.function
    alarms = [
        AlarmSpec(
            "Api5xx",
            "The inference API answered 5xx. First check the Lambda errors alarm, then the function's"
            " 'request' log lines with status 503 and their 'reason' (SageMaker or S3 refusing or throttling).",
            stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            threshold=api_5xx_threshold,
        ),
        AlarmSpec(
            "LambdaErrors",
            "The API's Lambda failed with an unhandled error or timed out. First check its log group"
            " for the 'request failed' line and its stack trace.",
            function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
        ),
    ]

    def graph(title: str, left: list[_Series], right: list[_Series] | None = None) -> cloudwatch.GraphWidget:
        """A third-wide graph of one-minute series, each (metric method, statistic, label)."""
        series = [[method(period=PERIOD, statistic=statistic, label=label) for method, statistic, label in side] for side in (left, right or [])]
        return cloudwatch.GraphWidget(title=title, left=series[0], right=series[1], width=THIRD)

    row: list[cloudwatch.IWidget] = [
        graph(
            "API requests and errors",
            [(stage.metric_count, "Sum", "requests"), (stage.metric_client_error, "Sum", "4xx"), (stage.metric_server_error, "Sum", "5xx")],
        ),
        graph(
            "API latency (ms)",
            [(stage.metric_latency, "p50", "latency p50"), (stage.metric_latency, "p99", "latency p99"),
             (stage.metric_integration_latency, "p99", "integration p99")],
        ),
        graph(
            "Lambda errors, throttles (left) and duration in ms (right)",
            [(function.metric_errors, "Sum", "errors"), (function.metric_throttles, "Sum", "throttles")],
            [(function.metric_duration, "p50", "duration p50"), (function.metric_duration, "Maximum", "duration max")],
        ),
    ]
    outcomes = [
        cloudwatch.GraphWidget(
            title="API outcomes (the handler's metrics, per minute)",
            left=[api.metric_outcome(name, period=PERIOD) for name in contract.CUSTOM_METRICS],
            width=WIDE,
        )
    ]
    return Section(alarms, [row, outcomes])


def batch_section(batch: BatchJobs) -> Section:
    """Batch jobs: their executions, lines and Lambdas; pages on a failed or timed-out batch, on notifications the
    tracker gave up on, and on the batch Lambdas' unhandled errors."""
    state_machine = batch.state_machine
    alarms = [
        AlarmSpec(
            "BatchExecutionsFailed",
            "A batch's execution failed (MarkFailed marked the batch failed) or timed out (its run outlived the"
            " longest completion window and its margin, and the batch stays in progress). First check the execution's"
            " failed state and error in the state machine's log group, then that step's Lambda log group.",
            batch.metric_executions_failed(period=FIVE_MINUTES),
        ),
        AlarmSpec(
            "BatchTrackerDeadLetters",
            "The batch tracker failed on endpoint notifications 5 times and left them in its dead-letter queue: those"
            " lines have no recorded outcome and will be reported expired. First check the Tracker function's log group,"
            " then redrive the dead-letter queue to the tracker queue.",
            batch.metric_tracker_dead_letters(),
        ),
        AlarmSpec(
            "BatchLambdaErrors",
            "A batch Lambda (API, a state machine step or the tracker) failed with an unhandled error or timed out."
            " First check the functions' log groups for the error and its stack trace.",
            batch.metric_lambda_errors(period=FIVE_MINUTES),
        ),
    ]
    executions: list[cloudwatch.IWidget] = [
        cloudwatch.GraphWidget(
            title="Batch executions",
            left=[
                state_machine.metric_started(period=PERIOD, statistic="Sum", label="started"),
                state_machine.metric_succeeded(period=PERIOD, statistic="Sum", label="succeeded"),
                state_machine.metric_failed(period=PERIOD, statistic="Sum", label="failed"),
                state_machine.metric_timed_out(period=PERIOD, statistic="Sum", label="timed out"),
            ],
            width=THIRD,
        ),
        cloudwatch.GraphWidget(
            title="Batch lines (per minute)",
            left=[
                batch.metric_batch(name, period=PERIOD)
                for name in (
                    batch_contract.BATCH_LINES_SUBMITTED,
                    batch_contract.BATCH_LINES_COMPLETED,
                    batch_contract.BATCH_LINES_FAILED,
                    batch_contract.BATCH_SUBMISSIONS_THROTTLED,
                )
            ],
            width=THIRD,
        ),
        cloudwatch.GraphWidget(
            title="Batch tracker queue: oldest message age (s, left), dead letters (right)",
            left=[batch.tracker_queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum", label="oldest message")],
            right=[batch.metric_tracker_dead_letters(period=PERIOD)],
            width=THIRD,
        ),
    ]
    batches = [
        cloudwatch.GraphWidget(
            title="Batches (the batch Lambdas' metrics, per minute)",
            left=[
                batch.metric_batch(name, period=PERIOD)
                for name in (
                    batch_contract.BATCHES_CREATED,
                    batch_contract.BATCHES_FINISHED,
                    batch_contract.BATCH_REQUESTS_REJECTED,
                )
            ],
            right=[batch.metric_lambda_errors(period=PERIOD)],
            width=WIDE,
        )
    ]
    return Section(alarms, [executions, batches])
