"""Pushed results: SQS (with a DLQ, own KMS key), email and HTTPS subscriptions on the chosen topics."""

from __future__ import annotations

from tests.synths import Synthesized


def _topic_id(synth: Synthesized, name: str) -> str:
    return synth.only("AWS::SNS::Topic", f"Notifications{name}")[0]


def test_no_subscription_by_default(sandbox: Synthesized) -> None:
    assert sandbox.resources("AWS::SNS::Subscription") == {}
    assert sandbox.resources("AWS::SQS::Queue") == {}


def test_subscriptions_on_the_configured_topics(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["subscribed"]
    success, error = _topic_id(synth, "Success"), _topic_id(synth, "Error")
    queue_id = next(k for k, v in synth.resources("AWS::SQS::Queue").items() if "RedrivePolicy" in v["Properties"])
    found = sorted(
        (s["Properties"]["Protocol"], s["Properties"]["TopicArn"]["Ref"], str(s["Properties"]["Endpoint"]))
        for s in synth.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"]["Ref"] in (success, error)  # not the operations topic's
    )
    assert found == sorted(
        [
            ("email", error, "ml-platform@example.com"),
            ("https", success, "https://hooks.example.com/llm"),
            ("sqs", error, str({"Fn::GetAtt": [queue_id, "Arn"]})),
            ("sqs", success, str({"Fn::GetAtt": [queue_id, "Arn"]})),
        ]
    )


def test_queue_has_a_dlq_and_its_own_key(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["subscribed"]
    queues = {k: v for k, v in synth.resources("AWS::SQS::Queue").items() if k.startswith("ResultSubscriptionsQueue1")}
    (main_id, main), (dlq_id, dlq) = sorted(queues.items(), key=lambda kv: "RedrivePolicy" not in kv[1]["Properties"])
    assert main["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    queue_key = synth.only("AWS::KMS::Key", "ResultSubscriptionsQueueKey")[0]
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [queue_key, "Arn"]}


def test_only_the_result_topics_may_use_the_queue_key(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["subscribed"]
    _, key = synth.only("AWS::KMS::Key", "ResultSubscriptionsQueueKey")
    for_sns = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "sns.amazonaws.com"}]
    assert {s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]) for s in for_sns} == {("kms:Decrypt", "kms:GenerateDataKey")}
    assert sorted(s["Condition"]["ArnEquals"]["aws:SourceArn"]["Ref"] for s in for_sns) == sorted(
        [_topic_id(synth, "Success"), _topic_id(synth, "Error")]
    )


def test_queues_refuse_plain_http(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["subscribed"]
    policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in synth.resources("AWS::SQS::QueuePolicy").values()]
    deny_http = [s for statements in policies for s in statements if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(deny_http) == 4  # the queue, its DLQ, and the subscriptions' delivery DLQs (results, ops)


def test_every_subscription_keeps_undeliverable_messages(synthesized: dict[str, Synthesized]) -> None:
    """SNS moves a message it cannot deliver (a bounced email, a failing webhook) to a queue for 14 days."""
    synth = synthesized["subscribed"]
    subscriptions = synth.resources("AWS::SNS::Subscription")
    assert subscriptions
    for subscription in subscriptions.values():
        (dlq_id, _) = subscription["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"]
        dlq = synth.template_json["Resources"][dlq_id]["Properties"]
        assert (dlq["SqsManagedSseEnabled"], dlq["MessageRetentionPeriod"]) == (True, 14 * 24 * 3600)


def test_queue_url_output(synthesized: dict[str, Synthesized]) -> None:
    outputs = synthesized["subscribed"].template_json["Outputs"]
    assert "ResultQueue1Url" in outputs
