"""Every stateful resource keeps its logical id: a new id makes CloudFormation replace it, and the data goes.

The ids below are the ones deployed stacks have. A refactor that moves a construct must keep its id path
(or the stack must migrate the resource); this test says which resource a change would replace.
"""

from __future__ import annotations

import pytest

from tests.synths import Synthesized

STATEFUL_TYPES = ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::SNS::Topic", "AWS::SQS::Queue")
EVERY_STACK = {
    "PayloadKey5F1B8A88",
    "LogKey3EBDB3E8",
    "Payloads07513F43",
    "PayloadsAccessLogs1CFA2538",
    "NotificationsSuccess81EF3C92",
    "NotificationsErrorBEDE5C08",
    "EndpointLogs88A66289",
    "ApiFunctionLogs4B382957",
    "ApiAccessLogs50B185DB",
    "MonitoringOpsKey4A871886",
    "MonitoringOpsTopicA6651D61",
}
# Batch jobs (issue 16), in every configuration (batch.enabled defaults to True): the tracker's queue key and queues,
# each batch Lambda's log group and the state machine's.
ADDED_BY_BATCH = {
    "BatchQueueKey5EAF2741",
    "BatchTrackerQueueE3F07564",
    "BatchTrackerDeadLetters17A972F3",
    "BatchDeliveryDeadLetters2D3EE517",
    "BatchStateMachineLogsEAAD436C",
    "BatchFunctionsApiLogsAFD0B9E1",
    "BatchFunctionsValidateLogs4F854A6D",
    "BatchFunctionsWakeLogsF324B91A",
    "BatchFunctionsSubmitChunkLogs3FCF267E",
    "BatchFunctionsCheckChunkLogs6CDAC2DE",
    "BatchFunctionsFinalizeLogsD221E79C",
    "BatchFunctionsMarkFailedLogs6D0867E0",
    "BatchFunctionsTrackerLogs17334746",
}
ADDED_BY_VARIANT = {
    "subscribed": {
        "MonitoringOpsDeliveryDeadLetters6DF03044",
        "ResultSubscriptionsDeliveryDeadLettersC653045F",
        "ResultSubscriptionsQueue138A408C7",
        "ResultSubscriptionsQueue1DeadLettersC9FA8684",
        "ResultSubscriptionsQueueKey87B76E5D",
    },
    "vpc-new": {"NetworkFlowLogs2BEC3212"},
    "vpc-nat": {"NetworkFlowLogs2BEC3212"},
}


@pytest.mark.parametrize(
    "name", ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing", "vllm", "llama"]
)
def test_stateful_resources_keep_their_logical_ids(synthesized: dict[str, Synthesized], name: str) -> None:
    resources = synthesized[name].template_json["Resources"]
    stateful = {logical_id for logical_id, r in resources.items() if r["Type"] in STATEFUL_TYPES}
    batch = ADDED_BY_BATCH if synthesized[name].config.batch.enabled else set()
    assert stateful == EVERY_STACK | batch | ADDED_BY_VARIANT.get(name, set())


# LlmAsyncWeightsStack (issue 14): the staged weights, their key and access logs. A replaced bucket must be staged again.
WEIGHTS_STACK = {"WeightsA7CDF379", "WeightsAccessLogs1481E6B0", "WeightsKeyDA94CAD0"}


@pytest.mark.parametrize("name", ["dev", "staging", "prod", "llama"])
def test_weights_stack_stateful_resources_keep_their_logical_ids(synthesized: dict[str, Synthesized], name: str) -> None:
    weights = synthesized[name].weights
    assert weights is not None
    stateful = {logical_id for logical_id, r in weights.template_json["Resources"].items() if r["Type"] in STATEFUL_TYPES}
    assert stateful == WEIGHTS_STACK
