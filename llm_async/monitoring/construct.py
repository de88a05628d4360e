"""Operations view of one stack: alarms that page an operations topic, and a CloudWatch dashboard.

A facade, as in cdk-monitoring-constructs: each watched concern contributes a `Section` (its paging
alarms and its dashboard rows, see sections.py); this construct owns the topic, the alarms and the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from llm_async.monitoring.config import MonitoringConfig, OpsSubscription
from llm_async.monitoring.sections import WIDE, AlarmSpec, Section
from llm_async.notifications.topics import delivery_dead_letter_queue
from llm_async.storage.keys import RotatingKey


class Monitoring(Construct):
    """One per stack: the operations topic (own KMS key, SSL only), its subscriptions, the alarms, the dashboard."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        config: MonitoringConfig,
        sections: Sequence[Section],
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        """`name` starts the alarms' and the dashboard's names: the endpoint's name prefix, which (unlike the
        endpoint's name) survives a change of instance type."""
        super().__init__(scope, id_)
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
        self.alarms: dict[str, cloudwatch.Alarm] = {
            spec.id_: self._alarm(spec) for section in sections for spec in section.alarms
        }
        self.dashboard = self._dashboard(sections)

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

    def _alarm(self, spec: AlarmSpec) -> cloudwatch.Alarm:
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

    def _dashboard(self, sections: Sequence[Section]) -> cloudwatch.Dashboard:
        header = "\n".join(section.header for section in sections if section.header)
        watched = [alarm for section in sections for alarm in section.watched_alarms]
        widgets: list[list[cloudwatch.IWidget]] = [
            [cloudwatch.TextWidget(markdown=header, width=WIDE, height=2)],
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms: operations (paging) and scaling (actions)",
                    alarms=[*self.alarms.values(), *watched],
                    width=WIDE,
                    height=3,
                )
            ],
            *(row for section in sections for row in section.rows),
        ]
        # Dashboards are global to an account, endpoints regional: the region keeps names apart.
        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self._name}-{cdk.Stack.of(self).region}",
            widgets=widgets,
        )
