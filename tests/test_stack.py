"""LlmAsyncStack as composed: properties only the whole stack shows (each construct has its own tests by concern)."""

from __future__ import annotations

import pytest

from tests.synths import Synthesized


def test_outputs(sandbox: Synthesized) -> None:
    outputs = sandbox.template_json["Outputs"]
    assert outputs["EndpointName"]["Value"] == "llm-async-sandbox-g5-2xlarge"
    assert set(outputs) == {
        "ApiUrl",
        "EndpointName",
        "PayloadBucketName",
        "SuccessTopicArn",
        "ErrorTopicArn",
        "OpsTopicArn",
        "DashboardName",
        "BatchStateMachineArn",
    }


def test_retained_in_prod_only(sandbox: Synthesized, prod: Synthesized) -> None:
    # Every bucket and key of the stack, whichever construct made it, follows storage.retain_on_delete.
    for synth, policy in ((sandbox, "Delete"), (prod, "Retain")):
        for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for resource in synth.resources(resource_type).values():
                assert resource["DeletionPolicy"] == policy, (synth.config.env_name, resource_type)


@pytest.mark.parametrize("env", ["sandbox", "dev", "prod", "s3-weights", "subscribed"])
def test_vpc_mode_is_off_by_default(synthesized: dict[str, Synthesized], env: str) -> None:
    # No construct of the stack, not only PrivateNetwork, creates an EC2 resource unless VPC mode is on.
    synth = synthesized[env]
    assert [r["Type"] for r in synth.template_json["Resources"].values() if r["Type"].startswith("AWS::EC2::")] == []
    _, model = synth.only("AWS::SageMaker::Model")
    assert "VpcConfig" not in model["Properties"]
    _, function = synth.only("AWS::Lambda::Function", "ApiFunction")
    assert "VpcConfig" not in function["Properties"]


def test_no_subscription_by_default_but_the_batch_tracker(sandbox: Synthesized) -> None:
    # Neither the result topics nor the operations topic push anywhere unless configured, except into the batch
    # jobs' own tracker queue (docs/design/batch-jobs.md), which reads both result topics.
    subscriptions = sandbox.resources("AWS::SNS::Subscription")
    (tracker_queue,) = [k for k, v in sandbox.resources("AWS::SQS::Queue").items() if k.startswith("BatchTrackerQueue") and "RedrivePolicy" in v["Properties"]]
    assert sorted(s["Properties"]["TopicArn"]["Ref"] for s in subscriptions.values()) == sorted(
        sandbox.resources("AWS::SNS::Topic").keys() - {k for k in sandbox.resources("AWS::SNS::Topic") if k.startswith("Monitoring")}
    )
    assert {s["Properties"]["Endpoint"]["Fn::GetAtt"][0] for s in subscriptions.values()} == {tracker_queue}
    assert all(k.startswith("Batch") for k in sandbox.resources("AWS::SQS::Queue"))


def test_queue_url_output(synthesized: dict[str, Synthesized]) -> None:
    # The stack outputs each result queue's URL: consumers read it from the stack, not the console.
    synth = synthesized["subscribed"]
    (queue_id,) = [
        k
        for k, v in synth.resources("AWS::SQS::Queue").items()
        if k.startswith("ResultSubscriptionsQueue1") and "RedrivePolicy" in v["Properties"]
    ]
    assert synth.template_json["Outputs"]["ResultQueue1Url"]["Value"] == {"Ref": queue_id}
