"""Operations view of one stack: a CloudWatch dashboard, and alarms that page an operations topic when the
endpoint is stuck at zero, failing, or the API and its Lambda are.

Dimensions are the ones each service publishes (an alarm on any other set never gets data):
SageMaker's queue metrics carry `EndpointName` only, its per-request metrics `EndpointName` and
`VariantName`, a REST API's `ApiName` and `Stage`, a Lambda's `FunctionName`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from llm_async.api.construct import InferenceApi
from llm_async.endpoint.config import ScalingConfig
from llm_async.endpoint.construct import AsyncEndpoint
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.monitoring.config import MonitoringConfig, OpsSubscription
from llm_async.notifications.topics import delivery_dead_letter_queue
from llm_async.storage.keys import RotatingKey

SAGEMAKER = "AWS/SageMaker"
# Host metrics (CPU, memory, GPU) of the endpoint's instances, per variant.
SAGEMAKER_INSTANCES = "/aws/sagemaker/Endpoints"
ONE_MINUTE = cdk.Duration.minutes(1)
FIVE_MINUTES = cdk.Duration.minutes(5)
# SageMaker, API Gateway and Lambda publish a count only for a period in which something happened:
# no datapoint is no failure, no expiry, no error. (Should a service stop publishing, the alarm stays quiet.)
NO_DATA_IS_NO_EVENT = cloudwatch.TreatMissingData.NOT_BREACHING


@dataclass(frozen=True)
class _AlarmSpec:
    id_: str
    """Also names the alarm: `<name>-<id in kebab case>`, e.g. llm-async-prod-stuck-at-zero."""
    description: str
    metric: cloudwatch.Metric
    treat_missing_data: cloudwatch.TreatMissingData
    """Stated by each alarm, with its reason."""
    threshold: float = 1
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD

    @property
    def slug(self) -> str:
        return re.sub(r"(?<=[a-z])(?=[A-Z0-9])", "-", self.id_).lower()


# Per-request SageMaker counts that page on any occurrence, with what to check first.
_SAGEMAKER_FAILURES = {
    "InvocationFailures": "Inferences failed. First check the failureReason in the error topic's message or in"
    " failure/<inference id>.out, then the endpoint's log group.",
    "NotificationFailures": "SageMaker could not publish an inference outcome to the success or error topic."
    " First check the execution role's sns:Publish and KMS grants and the topics' key policy.",
    "ExpiredRequests": "Requests expired in the queue at their RequestTTLSeconds without being processed."
    " First check whether the endpoint has instances and whether the stuck-at-zero alarm fired.",
}


class Monitoring(Construct):
    """One per stack: the operations topic (own KMS key, SSL only), its subscriptions, the alarms, the dashboard."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        config: MonitoringConfig,
        expected_wake_s: int,
        scaling_config: ScalingConfig,
        endpoint: AsyncEndpoint,
        scaling: ScaleToZero,
        api: InferenceApi,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        """`name` starts the alarms' and the dashboard's names: the endpoint's name prefix, which (unlike the
        endpoint's name) survives a change of instance type."""
        super().__init__(scope, id_)
        self._endpoint = endpoint
        self._name = name
        self._alarm_name_prefix = f"{name}-"
        # A key of its own: CloudWatch must be allowed to use it, and the payload key stays closed to it.
        self.key = RotatingKey(
            self, "OpsKey", description="llm-async: operations alarms topic", removal_policy=removal_policy
        ).key
        self.ops_topic = sns.Topic(
            self,
            "OpsTopic",
            display_name=f"{name} operations",
            master_key=self.key,
            enforce_ssl=True,
        )
        self._allow_cloudwatch_alarms()
        self.delivery_dead_letters = (
            delivery_dead_letter_queue(self, "OpsDeliveryDeadLetters", removal_policy=cdk.RemovalPolicy.DESTROY)
            if config.ops_subscriptions
            else None
        )
        for index, destination in enumerate(config.ops_subscriptions, start=1):
            self.ops_topic.add_subscription(self._subscription(index, destination))

        stage = api.rest_api.deployment_stage
        specs = [
            _AlarmSpec(
                "StuckAtZero",
                f"A request has waited longer than a cold start may take ({expected_wake_s} s: provisioning,"
                " model download and load, margin): the endpoint is not waking or not keeping up. First check"
                " the instance count and the wake alarm on the dashboard.",
                self._sagemaker("ApproximateAgeOfOldestRequest", "Maximum", ONE_MINUTE),
                # No age without a waiting request: an idle endpoint at zero is not stuck.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                threshold=expected_wake_s,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
            *(
                _AlarmSpec(
                    name,
                    description,
                    self._sagemaker(name, "Sum", FIVE_MINUTES, per_variant=True),
                    treat_missing_data=NO_DATA_IS_NO_EVENT,
                )
                for name, description in _SAGEMAKER_FAILURES.items()
            ),
            _AlarmSpec(
                "Api5xx",
                "The inference API answered 5xx. First check the Lambda errors alarm, then the function's"
                " 'request' log lines with status 503 and their 'reason' (SageMaker or S3 refusing or throttling).",
                stage.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                treat_missing_data=NO_DATA_IS_NO_EVENT,
                threshold=config.api_5xx_threshold,
            ),
            _AlarmSpec(
                "LambdaErrors",
                "The API's Lambda failed with an unhandled error or timed out. First check its log group"
                " for the 'request failed' line and its stack trace.",
                api.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                treat_missing_data=NO_DATA_IS_NO_EVENT,
            ),
        ]
        self.alarms: dict[str, cloudwatch.Alarm] = {spec.id_: self._alarm(spec) for spec in specs}
        self.dashboard = self._dashboard(expected_wake_s, scaling_config, scaling, api)

    def _allow_cloudwatch_alarms(self) -> None:
        """CloudWatch publishes alarm notifications as its service principal: it needs the topic and the key,
        and only for this account's alarms named like ours (confused-deputy conditions)."""
        stack = cdk.Stack.of(self)
        conditions = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=f"{self._alarm_name_prefix}*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        }
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        self.ops_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[self.ops_topic.topic_arn],
                conditions=conditions,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseKey",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=conditions,
            )
        )

    def _subscription(self, index: int, destination: OpsSubscription) -> sns.ITopicSubscription:
        dlq = self.delivery_dead_letters
        if destination.protocol == "email":
            return subscriptions.EmailSubscription(destination.endpoint, dead_letter_queue=dlq)
        if destination.protocol == "https":
            return subscriptions.UrlSubscription(destination.endpoint, protocol=sns.SubscriptionProtocol.HTTPS, dead_letter_queue=dlq)
        # An existing queue: its owner's queue policy (and key policy, if encrypted) must let this topic send.
        queue = sqs.Queue.from_queue_arn(self, f"OpsQueue{index}", destination.endpoint)
        return subscriptions.SqsSubscription(queue, raw_message_delivery=True, dead_letter_queue=dlq)

    def _alarm(self, spec: _AlarmSpec) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{spec.id_}Alarm",
            alarm_name=f"{self._alarm_name_prefix}{spec.slug}",
            alarm_description=spec.description,
            metric=spec.metric,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=spec.treat_missing_data,
        )
        action = cloudwatch_actions.SnsAction(self.ops_topic)
        alarm.add_alarm_action(action)
        # The all-clear goes to the same people who were paged.
        alarm.add_ok_action(action)
        return alarm

    def _sagemaker(
        self,
        name: str,
        statistic: str,
        period: cdk.Duration = ONE_MINUTE,
        *,
        per_variant: bool = False,
        namespace: str = SAGEMAKER,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        dimensions = {"EndpointName": self._endpoint.endpoint_name}
        if per_variant:
            dimensions["VariantName"] = self._endpoint.variant_name
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=period,
            label=label,
        )

    def _dashboard(
        self, expected_wake_s: int, scaling_config: ScalingConfig, scaling: ScaleToZero, api: InferenceApi
    ) -> cloudwatch.Dashboard:
        endpoint_name = self._endpoint.endpoint_name
        stage = api.rest_api.deployment_stage
        function = api.function
        scaling_alarms = [a for a in (scaling.wake_alarm, scaling.scale_out_alarm, scaling.idle_alarm) if a]
        wide, third = 24, 8
        widgets: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.TextWidget(
                    markdown=f"# {endpoint_name}\nAsync endpoint, variant `{self._endpoint.variant_name}`, "
                    f"{scaling_config.min_capacity}–{scaling_config.max_capacity} instances. A request waiting"
                    f" longer than **{expected_wake_s} s** pages the operations topic (stuck at zero). What"
                    " each alarm means and what to check first: README, *Monitoring and alarms*.",
                    width=wide,
                    height=2,
                )
            ],
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms: operations (paging) and scaling (actions)",
                    alarms=[*self.alarms.values(), *scaling_alarms],
                    width=wide,
                    height=3,
                )
            ],
            [
                cloudwatch.GraphWidget(
                    title="Backlog",
                    left=[
                        self._sagemaker("ApproximateBacklogSize", "Maximum", label="backlog size"),
                        self._sagemaker("ApproximateBacklogSizePerInstance", "Average", label="backlog per instance"),
                    ],
                    width=third,
                ),
                cloudwatch.GraphWidget(
                    title="Age of oldest request (s)",
                    left=[self._sagemaker("ApproximateAgeOfOldestRequest", "Maximum", label="oldest request age")],
                    left_annotations=[cloudwatch.HorizontalAnnotation(value=expected_wake_s, label="stuck at zero")],
                    width=third,
                ),
                cloudwatch.GraphWidget(
                    # SageMaker publishes no desired instance count (only DescribeEndpoint returns it, and
                    # Application Auto Scaling publishes none). The closest: AWS's documented way to count an
                    # endpoint's running instances, the per-minute SampleCount of CPUUtilization (one sample
                    # per instance), and HasBacklogWithoutCapacity, which is 1 exactly while work waits for
                    # an instance that is wanted but not there.
                    title="Instances vs. demand",
                    left=[
                        self._sagemaker(
                            "CPUUtilization",
                            "SampleCount",
                            per_variant=True,
                            namespace=SAGEMAKER_INSTANCES,
                            label="instances running (CPUUtilization samples)",
                        ),
                        self._sagemaker(
                            "HasBacklogWithoutCapacity", "Maximum", label="backlog without capacity (wants 1+)"
                        ),
                    ],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=scaling_config.max_capacity, label="max capacity"),
                    ],
                    left_y_axis=cloudwatch.YAxisProps(min=0),
                    width=third,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    # The AWS docs list this metric as "InvocationsProcesssed"; other public code reads
                    # "InvocationsProcessed". Neither was checked against a live account: both are charted,
                    # and the one SageMaker publishes is the line that shows.
                    title="Invocations processed",
                    left=[
                        self._sagemaker(name, "Sum", per_variant=True, label=name)
                        for name in ("InvocationsProcessed", "InvocationsProcesssed")
                    ],
                    width=third,
                ),
                cloudwatch.GraphWidget(
                    title="Failures and expired requests",
                    left=[
                        self._sagemaker(name, "Sum", per_variant=True, label=name)
                        for name in (
                            "InvocationFailures",
                            "NotificationFailures",
                            "RequestDownloadFailures",
                            "ResponseUploadFailures",
                            "ExpiredRequests",
                        )
                    ],
                    width=third,
                ),
                cloudwatch.GraphWidget(
                    title="Model latency and total processing time (s)",
                    left=[
                        # ModelLatency is in microseconds, TotalProcessingTime (queue to notification) in ms.
                        cloudwatch.MathExpression(
                            expression="latency / 1000000",
                            using_metrics={"latency": self._sagemaker("ModelLatency", "Average", per_variant=True)},
                            label="model latency",
                            period=ONE_MINUTE,
                        ),
                        cloudwatch.MathExpression(
                            expression="total / 1000",
                            using_metrics={
                                "total": self._sagemaker("TotalProcessingTime", "Average", per_variant=True)
                            },
                            label="total processing time",
                            period=ONE_MINUTE,
                        ),
                    ],
                    width=third,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="API requests and errors",
                    left=[
                        stage.metric_count(period=ONE_MINUTE, statistic="Sum", label="requests"),
                        stage.metric_client_error(period=ONE_MINUTE, statistic="Sum", label="4xx"),
                        stage.metric_server_error(period=ONE_MINUTE, statistic="Sum", label="5xx"),
                    ],
                    width=third,
                ),
                cloudwatch.GraphWidget(
                    title="API latency (ms)",
                    left=[
                        stage.metric_latency(period=ONE_MINUTE, statistic="p50", label="latency p50"),
                        stage.metric_latency(period=ONE_MINUTE, statistic="p99", label="latency p99"),
                        stage.metric_integration_latency(period=ONE_MINUTE, statistic="p99", label="integration p99"),
                    ],
                    width=third,
                ),
                cloudwatch.GraphWidget(
                    title="Lambda errors, throttles (left) and duration in ms (right)",
                    left=[
                        function.metric_errors(period=ONE_MINUTE, statistic="Sum", label="errors"),
                        function.metric_throttles(period=ONE_MINUTE, statistic="Sum", label="throttles"),
                    ],
                    right=[
                        function.metric_duration(period=ONE_MINUTE, statistic="p50", label="duration p50"),
                        function.metric_duration(period=ONE_MINUTE, statistic="Maximum", label="duration max"),
                    ],
                    width=third,
                ),
            ],
        ]
        # Dashboards are global to an account, endpoints regional: the region keeps names apart.
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self._name}-{cdk.Stack.of(self).region}",
            widgets=widgets,
        )
