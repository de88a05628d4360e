"""The Monitoring facade alone, over hand-made sections: alarm names and actions, the operations topic and its key
(confused-deputy conditions), its subscriptions and dead-letter queue, the dashboard's name and layout."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

from llm_async.monitoring.config import MonitoringConfig, OpsSubscription
from llm_async.monitoring.construct import Monitoring
from llm_async.monitoring.sections import AlarmSpec, Section
from tests.constructs import ACCOUNT, bare_stack, template
from tests.monitoring.dashboard import dashboard_body, graph_metrics

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ops-alarms"
SUBSCRIPTIONS = (
    OpsSubscription("email", "llm-oncall@example.com"),
    OpsSubscription("https", "https://pager.example.com/hooks/llm"),
    OpsSubscription("sqs", QUEUE_ARN),
)


def _metric(name: str, statistic: str = "Sum", minutes: int = 5) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="Test/Service",
        metric_name=name,
        dimensions_map={"Service": "test"},
        statistic=statistic,
        period=cdk.Duration.minutes(minutes),
    )


@dataclasses.dataclass(frozen=True)
class Built:
    stack: cdk.Stack
    monitoring: Monitoring
    watched: cloudwatch.Alarm
    template: Template

    def id_(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def ref(self, construct: Any) -> dict[str, str]:
        return {"Ref": self.id_(construct)}

    def alarms(self) -> dict[str, dict[str, Any]]:
        """The alarms' properties by alarm name (the watched alarm has none)."""
        found = self.template.find_resources("AWS::CloudWatch::Alarm").values()
        return {a["Properties"].get("AlarmName", "<watched>"): a["Properties"] for a in found}

    def only(self, resource_type: str) -> dict[str, Any]:
        (resource,) = self.template.find_resources(resource_type).values()
        return resource

    def statement(self, resource_type: str, policy_key: str, sid: str) -> dict[str, Any]:
        (statement,) = [
            s for s in self.only(resource_type)["Properties"][policy_key]["Statement"] if s.get("Sid") == sid
        ]
        return statement


def _build(stack: cdk.Stack, name: str, config: MonitoringConfig, removal: cdk.RemovalPolicy) -> Built:
    # Another construct's alarm that the dashboard watches (as the scaling alarms are).
    watched = cloudwatch.Alarm(
        stack, "Watched", metric=_metric("Backlog", "Maximum", 1), threshold=1, evaluation_periods=1
    )
    queue = Section(
        alarms=[
            AlarmSpec(
                "StuckAtZero",
                "A request waits too long. First check the instances.",
                _metric("OldestAge", "Maximum", 1),
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                threshold=1800,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
        ],
        rows=[[cloudwatch.GraphWidget(title="Queue", left=[_metric("OldestAge", "Maximum", 1)])]],
        header="# The queue",
        watched_alarms=[watched],
    )
    api = Section(
        alarms=[
            AlarmSpec(
                "Api5xx",
                "The API answered 5xx. First check the logs.",
                _metric("5XXError"),
            )
        ],
        rows=[
            [cloudwatch.GraphWidget(title="Errors", left=[_metric("5XXError")])],
            [cloudwatch.TextWidget(markdown="last row")],
        ],
    )
    monitoring = Monitoring(
        stack, "Monitoring", name=name, config=config, sections=[queue, api], removal_policy=removal
    )
    return Built(stack, monitoring, watched, template(stack))


@pytest.fixture(scope="module")
def subscribed() -> Built:
    """A stack with an account and region, three destinations, and resources kept on delete."""
    return _build(
        bare_stack(), "llm-async-test", MonitoringConfig(ops_subscriptions=SUBSCRIPTIONS), cdk.RemovalPolicy.RETAIN
    )


@pytest.fixture(scope="module")
def agnostic() -> Built:
    """An environment-agnostic stack (as the sandbox is) with no destination."""
    return _build(
        bare_stack(region=None, account=None), "llm-async-plain", MonitoringConfig(), cdk.RemovalPolicy.DESTROY
    )


@pytest.mark.parametrize(
    ("id_", "slug"),
    [
        ("StuckAtZero", "stuck-at-zero"),
        ("Api5xx", "api-5xx"),
        ("LambdaErrors", "lambda-errors"),
        ("ExpiredRequests", "expired-requests"),
    ],
)
def test_an_alarm_spec_is_named_in_kebab_case(id_: str, slug: str) -> None:
    spec = AlarmSpec(id_, "", _metric("M"), treat_missing_data=cloudwatch.TreatMissingData.MISSING)
    assert spec.slug == slug


def test_alarms_are_named_after_the_deployment(subscribed: Built) -> None:
    assert sorted(subscribed.alarms()) == ["<watched>", "llm-async-test-api-5xx", "llm-async-test-stuck-at-zero"]
    assert sorted(subscribed.monitoring.alarms) == ["Api5xx", "StuckAtZero"]


def test_an_alarm_is_its_spec_on_the_first_breaching_datapoint(subscribed: Built) -> None:
    assert {
        k: v
        for k, v in subscribed.alarms()["llm-async-test-stuck-at-zero"].items()
        if k not in ("AlarmActions", "OKActions")
    } == {
        "AlarmName": "llm-async-test-stuck-at-zero",
        "AlarmDescription": "A request waits too long. First check the instances.",
        "Namespace": "Test/Service",
        "MetricName": "OldestAge",
        "Dimensions": [{"Name": "Service", "Value": "test"}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 1800,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
    }


def test_an_alarm_spec_defaults_to_any_event_paging(subscribed: Built) -> None:
    alarm = subscribed.alarms()["llm-async-test-api-5xx"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        "notBreaching",
    )


@pytest.mark.parametrize("name", ["llm-async-test-stuck-at-zero", "llm-async-test-api-5xx"])
def test_every_alarm_pages_and_clears_through_the_ops_topic(subscribed: Built, name: str) -> None:
    topic = subscribed.ref(subscribed.monitoring.ops_topic)
    alarm = subscribed.alarms()[name]
    # The all-clear goes to the same people who were paged.
    assert (alarm["AlarmActions"], alarm["OKActions"]) == ([topic], [topic])


def test_watched_alarms_are_not_given_actions(subscribed: Built) -> None:
    watched = subscribed.alarms()["<watched>"]
    assert "AlarmActions" not in watched and "OKActions" not in watched


def test_the_topic_has_its_own_rotating_key(subscribed: Built) -> None:
    topic = subscribed.only("AWS::SNS::Topic")["Properties"]
    key = subscribed.only("AWS::KMS::Key")
    assert topic == {
        "DisplayName": "llm-async-test operations",
        "KmsMasterKeyId": {"Fn::GetAtt": [subscribed.id_(subscribed.monitoring.key), "Arn"]},
    }
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # the removal policy given


def test_the_topic_refuses_publishing_without_tls(subscribed: Built) -> None:
    statements = subscribed.only("AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert (deny["Action"], deny["Principal"], deny["Condition"]) == (
        "sns:Publish",
        "*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )


CONDITIONS = {
    "StringEquals": {"aws:SourceAccount": ACCOUNT},
    "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:llm-async-test-*"},
}


def _for_our_alarms_only(sid: str, action: str | list[str], resource: Any) -> dict[str, Any]:
    """A statement letting CloudWatch do `action` for this account's alarms named like ours, and no one else's."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": action,
        "Resource": resource,
        "Condition": CONDITIONS,
    }


def test_cloudwatch_may_publish_for_this_accounts_alarms_named_like_ours_only(subscribed: Built) -> None:
    statement = subscribed.statement("AWS::SNS::TopicPolicy", "PolicyDocument", "CloudWatchAlarmsPublish")
    topic = subscribed.ref(subscribed.monitoring.ops_topic)
    assert statement == _for_our_alarms_only("CloudWatchAlarmsPublish", "sns:Publish", topic)


def test_cloudwatch_may_use_the_key_for_the_same_alarms_only(subscribed: Built) -> None:
    statement = subscribed.statement("AWS::KMS::Key", "KeyPolicy", "CloudWatchAlarmsUseKey")
    # In a key policy, "*" is the key itself.
    assert statement == _for_our_alarms_only("CloudWatchAlarmsUseKey", ["kms:Decrypt", "kms:GenerateDataKey*"], "*")


def test_without_an_environment_the_conditions_name_the_deploying_account(agnostic: Built) -> None:
    for resource_type, key, sid in (
        ("AWS::SNS::TopicPolicy", "PolicyDocument", "CloudWatchAlarmsPublish"),
        ("AWS::KMS::Key", "KeyPolicy", "CloudWatchAlarmsUseKey"),
    ):
        conditions = agnostic.statement(resource_type, key, sid)["Condition"]
        assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert conditions["ArnLike"]["aws:SourceArn"]["Fn::Join"][1][-1] == ":alarm:llm-async-plain-*"


def test_each_destination_is_subscribed_with_its_protocol(subscribed: Built) -> None:
    topic = subscribed.ref(subscribed.monitoring.ops_topic)
    subscriptions = [s["Properties"] for s in subscribed.template.find_resources("AWS::SNS::Subscription").values()]
    assert {s["TopicArn"] == topic for s in subscriptions} == {True}
    assert sorted((s["Protocol"], s["Endpoint"], s.get("RawMessageDelivery")) for s in subscriptions) == [
        ("email", "llm-oncall@example.com", None),
        ("https", "https://pager.example.com/hooks/llm", None),
        # The alarm's JSON as the queue's message body, without SNS's envelope.
        ("sqs", QUEUE_ARN, True),
    ]


def test_undeliverable_alarms_are_kept_in_one_dead_letter_queue(subscribed: Built) -> None:
    ((queue_id, queue),) = subscribed.template.find_resources("AWS::SQS::Queue").items()
    subscriptions = subscribed.template.find_resources("AWS::SNS::Subscription").values()
    assert [s["Properties"]["RedrivePolicy"] for s in subscriptions] == [
        {"deadLetterTargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    ] * 3
    # 14 days, SQS-managed encryption (SNS writes to it without KMS grants), deleted with the stack.
    assert queue["Properties"] == {"MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": True}
    assert queue["DeletionPolicy"] == "Delete"


def test_no_subscription_and_no_dead_letter_queue_unless_configured(agnostic: Built) -> None:
    agnostic.template.resource_count_is("AWS::SNS::Subscription", 0)
    agnostic.template.resource_count_is("AWS::SQS::Queue", 0)
    assert agnostic.monitoring.delivery_dead_letters is None


def test_the_dashboard_is_named_after_the_deployment_and_region(subscribed: Built, agnostic: Built) -> None:
    # Dashboards are global to an account, endpoints regional.
    assert subscribed.only("AWS::CloudWatch::Dashboard")["Properties"]["DashboardName"] == "llm-async-test-us-east-1"
    # Environment-agnostic: the region is resolved at deploy time.
    assert agnostic.only("AWS::CloudWatch::Dashboard")["Properties"]["DashboardName"] == {
        "Fn::Join": ["", ["llm-async-plain-", {"Ref": "AWS::Region"}]]
    }


def test_the_dashboard_opens_with_the_headers_then_every_alarm(subscribed: Built) -> None:
    text, status, *_ = dashboard_body(subscribed.only("AWS::CloudWatch::Dashboard"))["widgets"]
    # Sections without a header add no line.
    assert (text["type"], text["properties"]["markdown"]) == ("text", "# The queue")
    assert status["type"] == "alarm"
    own = [subscribed.id_(subscribed.monitoring.alarms[name]) for name in ("StuckAtZero", "Api5xx")]
    assert status["properties"]["alarms"] == [
        f"<{logical_id}>" for logical_id in (*own, subscribed.id_(subscribed.watched))
    ]


def test_the_sections_rows_follow_in_order(subscribed: Built) -> None:
    widgets = dashboard_body(subscribed.only("AWS::CloudWatch::Dashboard"))["widgets"]
    rows = widgets[2:]
    assert [w["properties"].get("title", w["properties"].get("markdown")) for w in rows] == [
        "Queue",
        "Errors",
        "last row",
    ]
    # Each row below the one before it.
    assert [w["y"] for w in widgets] == sorted(w["y"] for w in widgets) and len({w["y"] for w in rows}) == 3
    assert graph_metrics(rows[0]) == [
        ("Test/Service", "OldestAge", {"Service": "test"}, {"stat": "Maximum", "period": 60})
    ]
