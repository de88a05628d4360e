"""BatchJobs alone in a bare stack with its collaborators: the state machine's definition state by state (type, the
Lambda it invokes, its input and output paths, retries, catches, the Distributed Map's settings), each Lambda's
handler, environment and IAM, the tracker's queue and subscriptions, the API routes, grants, metrics, findings."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam

from llm_async.api.runtime.batch_jobs import contract
from llm_async.batch.config import BatchConfig, poll_interval_s
from llm_async.batch.construct import BatchJobs
from llm_async.environments import ENVIRONMENTS
from llm_async.model.config import S3Weights
from llm_async.monitoring.sections import batch_section
from llm_async.network.config import NewVpc
from tests.batch.definition import definition, states
from tests.compliance.acknowledged import acknowledged, under
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack, deny_plain_http_to_queue, queue_policy_statements
from tests.synths import S3_WEIGHTS_URI
from tests.test_cfn_lint import IGNORED, lint

HANDLERS = {
    "Api": "batch_jobs.api.lambda_handler",
    "Validate": "batch_jobs.steps.validate",
    "Wake": "batch_jobs.steps.wake",
    "SubmitChunk": "batch_jobs.steps.submit_chunk",
    "CheckChunk": "batch_jobs.steps.check_chunk",
    "Finalize": "batch_jobs.steps.finalize",
    "MarkFailed": "batch_jobs.steps.mark_failed",
    "Tracker": "batch_jobs.tracker.lambda_handler",
}
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
]  # fmt: skip
SERVICE_RETRY = {"ErrorEquals": LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2}
THROTTLED_RETRY = {"ErrorEquals": ["Throttled"], "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2, "JitterStrategy": "FULL"}
CATCH = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}]


@dataclasses.dataclass(frozen=True)
class Built(BuiltStack):
    parts: Parts
    batch: BatchJobs
    caller: iam.Role
    acknowledged: dict[tuple[str, str], str]

    @property
    def functions(self) -> dict[str, Any]:
        """Each batch Lambda by its construct id (Validate, SubmitChunk, ..., Api, Tracker)."""
        return {function.node.id: function for function in self.batch.all_functions}

    def function(self, name: str) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.logical_id(self.functions[name])]

    def names(self) -> dict[str, str]:
        """Logical id → a readable name, for the resources the batch grants on."""
        parts, batch = self.parts, self.batch
        named = {
            "payloads": parts.payloads.bucket, "payload-key": parts.key, "endpoint": parts.endpoint.endpoint,
            "wake-alarm": parts.scaling.wake_alarm, "state-machine": batch.state_machine, "tracker-queue": batch.tracker_queue,
            "queue-key": batch.tracker_queue_key,
            **{f"fn:{name}": function for name, function in self.functions.items()},
            **{f"logs:{name}": function.log_group for name, function in self.functions.items()},
        }  # fmt: skip
        return {
            construct if isinstance(construct, str) else self.stack.get_logical_id(
                construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
            ): name
            for name, construct in named.items()
        }

    def grants(self, role: iam.IRole) -> set[tuple[str, str]]:
        """(action, resource) of every statement of the role's policies, resources by `names`."""
        role_ref = {"Ref": self.stack.get_logical_id(role.node.default_child)}
        names = self.names()
        found = set()
        for policy in self.template.find_resources("AWS::IAM::Policy").values():
            if role_ref not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
                for action in _list(statement["Action"]):
                    for resource in _list(statement["Resource"]):
                        found.add((action, _readable(resource, names)))
        return found

    def definition(self) -> dict[str, Any]:
        names = self.names()
        (state_machine,) = self.template.find_resources("AWS::StepFunctions::StateMachine").values()
        return definition(state_machine, lambda reference: _readable(reference, names))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _readable(resource: Any, names: dict[str, str]) -> str:
    """`payloads/batches/*`, `fn:Validate`, `fn:Validate:*`, `*`, `arn:aws:states:...`: a resource as one string."""
    if isinstance(resource, str):
        return resource
    if "Ref" in resource:
        if resource["Ref"].startswith("AWS::"):
            return "${%s}" % resource["Ref"]
        return names.get(resource["Ref"], resource["Ref"])
    if "Fn::GetAtt" in resource:
        return names.get(resource["Fn::GetAtt"][0], resource["Fn::GetAtt"][0])
    if "Fn::Join" in resource:
        return "".join(_readable(part, names) for part in resource["Fn::Join"][1])
    if "Fn::Select" in resource:  # the state machine's name, from its ARN
        return "<name>"
    raise AssertionError(resource)


def _build(config_name: str, **changes: Any) -> Built:
    stack = bare_stack()
    config = dataclasses.replace(ENVIRONMENTS[config_name](), **changes)
    parts = Parts(stack, config)
    batch = parts.batch
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountPrincipal("123456789012"))
    batch.grant_invoke(caller)
    return Built(stack, template(stack), parts, batch, caller, under(acknowledged(stack), "Batch"))


@pytest.fixture(scope="module")
def sandbox() -> Built:
    return _build("sandbox")


@pytest.fixture(scope="module")
def sandbox_definition(sandbox: Built) -> dict[str, Any]:
    return sandbox.definition()


@pytest.fixture(scope="module")
def vpc() -> Built:
    """VPC mode with S3 weights (no NAT): the batch Lambdas in the private subnets."""
    sandbox = ENVIRONMENTS["sandbox"]()
    model = dataclasses.replace(sandbox.model, weights=S3Weights(S3_WEIGHTS_URI))
    return _build("sandbox", model=model, network=NewVpc())


# --- the state machine ---


def test_a_standard_state_machine_traced_and_timed_out_after_the_longest_window_and_its_margin(sandbox: Built) -> None:
    (state_machine,) = sandbox.template.find_resources("AWS::StepFunctions::StateMachine").values()
    properties = state_machine["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    # 24 h + an hour for validation, finalization and the last polls.
    assert sandbox.definition()["TimeoutSeconds"] == 24 * 3600 + 3600


def test_it_logs_every_event_without_execution_data_to_an_encrypted_vended_log_group(sandbox: Built) -> None:
    (state_machine,) = sandbox.template.find_resources("AWS::StepFunctions::StateMachine").values()
    logging = state_machine["Properties"]["LoggingConfiguration"]
    # Without the data: states' inputs and outputs carry batch ids and byte ranges, kept out of the logs all the same.
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    (destination,) = logging["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = sandbox.template.to_json()["Resources"][group_id]["Properties"]
    assert group["LogGroupName"] == "/aws/vendedlogs/states/llm-async-sandbox-batches"
    assert group["KmsKeyId"] == {"Fn::GetAtt": [sandbox.logical_id(sandbox.parts.logs.encryption_key), "Arn"]}
    assert group["RetentionInDays"] == 7


def test_the_states_and_their_types(sandbox_definition: dict[str, Any]) -> None:
    assert sandbox_definition["StartAt"] == "Validate"
    assert {name: state["Type"] for name, state in states(sandbox_definition).items()} == {
        "Validate": "Task",
        "IsValid": "Choice",
        "Wake": "Task",
        "Submit": "Map",
        "SubmitChunk": "Task",
        "WaitForChunk": "Wait",
        "CheckChunk": "Task",
        "IsChunkDone": "Choice",
        "ChunkDone": "Pass",
        "Finalize": "Task",
        "Done": "Succeed",
        "MarkFailed": "Task",
        "Failed": "Fail",
    }


@pytest.mark.parametrize(
    ("state", "function"),
    [
        ("Validate", "Validate"),
        ("Wake", "Wake"),
        ("SubmitChunk", "SubmitChunk"),
        ("CheckChunk", "CheckChunk"),
        ("Finalize", "Finalize"),
        ("MarkFailed", "MarkFailed"),
    ],
)
def test_each_task_invokes_its_steps_function_directly(
    sandbox: Built, sandbox_definition: dict[str, Any], state: str, function: str
) -> None:
    # The function's ARN as the Resource: the state's result is the handler's return value, without Lambda's envelope.
    assert states(sandbox_definition)[state]["Resource"] == f"fn:{function}"
    assert sandbox.function(function)["Properties"]["Handler"] == HANDLERS[function]


def test_validate_takes_the_batch_id_and_its_result_is_the_state(sandbox_definition: dict[str, Any]) -> None:
    validate = states(sandbox_definition)["Validate"]
    assert validate["Parameters"] == {"batch_id.$": "$.batch_id"}
    assert "ResultPath" not in validate and "ResultSelector" not in validate and "OutputPath" not in validate
    assert (validate["Retry"], validate["Catch"], validate["Next"]) == ([SERVICE_RETRY], CATCH, "IsValid")


def test_a_valid_file_is_woken_for_and_an_invalid_one_is_done(sandbox_definition: dict[str, Any]) -> None:
    assert states(sandbox_definition)["IsValid"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.valid", "BooleanEquals": True, "Next": "Wake"}],
        "Default": "Done",
    }


def test_wake_takes_the_whole_state_once_before_submitting(sandbox_definition: dict[str, Any]) -> None:
    wake = states(sandbox_definition)["Wake"]
    assert "Parameters" not in wake and "ResultPath" not in wake
    assert (wake["Retry"], wake["Catch"], wake["Next"]) == ([SERVICE_RETRY], CATCH, "Submit")


def test_submit_is_a_distributed_map_over_the_batchs_items(sandbox: Built, sandbox_definition: dict[str, Any]) -> None:
    submit = states(sandbox_definition)["Submit"]
    assert submit["ItemReader"] == {
        "Resource": "arn:${AWS::Partition}:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket": "payloads", "Key.$": "$.items_key"},
    }
    assert submit["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert (submit["Label"], submit["Next"], submit["Catch"]) == ("Submit", "Finalize", CATCH)


def test_each_item_is_the_lines_fields_with_its_bodys_byte_range_and_no_body(sandbox_definition: dict[str, Any]) -> None:
    assert states(sandbox_definition)["Submit"]["ItemSelector"] == {
        "line.$": "$$.Map.Item.Value.line",
        "custom_id.$": "$$.Map.Item.Value.custom_id",
        "inference_id.$": "$$.Map.Item.Value.inference_id",
        "offset.$": "$$.Map.Item.Value.offset",
        "length.$": "$$.Map.Item.Value.length",
    }


def test_chunks_of_chunk_lines_carry_the_batch_id_and_deadline_once(sandbox_definition: dict[str, Any]) -> None:
    assert states(sandbox_definition)["Submit"]["ItemBatcher"] == {
        "MaxItemsPerBatch": 50,
        # Step Functions' payload quota for a child's input: a chunk is cut before it would exceed it.
        "MaxInputBytesPerBatch": 262_144,
        "BatchInput": {"batch_id.$": "$.batch_id", "deadline.$": "$.deadline"},
    }


def test_submission_is_bounded_and_a_failed_chunk_does_not_stop_the_batch(sandbox_definition: dict[str, Any]) -> None:
    submit = states(sandbox_definition)["Submit"]
    # The sandbox's derived concurrency (DeploymentConfig.batch_max_concurrency): chunks holding twice the 84 requests
    # one instance runs at once.
    assert (submit["MaxConcurrency"], submit["ToleratedFailurePercentage"]) == (4, 100)
    # The children's outputs are discarded: Finalize gets the state Wake left.
    assert submit["ResultPath"] is None


def test_the_configured_concurrency_and_chunk_size_reach_the_map() -> None:
    built = _build("sandbox", batch=BatchConfig(chunk_lines=7, max_concurrency=13))
    submit = states(built.definition())["Submit"]
    assert (submit["MaxConcurrency"], submit["ItemBatcher"]["MaxItemsPerBatch"]) == (13, 7)


def test_a_chunk_is_submitted_with_throttling_retried_with_full_jitter(sandbox_definition: dict[str, Any]) -> None:
    child = states(sandbox_definition)["Submit"]["ItemProcessor"]
    assert child["StartAt"] == "SubmitChunk"
    submit_chunk = child["States"]["SubmitChunk"]
    # Its input is the chunk, {"BatchInput", "Items"}, whole; its result ({"batch_id", "deadline", "lines"}) the state.
    assert "Parameters" not in submit_chunk and "ResultPath" not in submit_chunk
    assert submit_chunk["Retry"] == [SERVICE_RETRY, THROTTLED_RETRY]
    # No catch inside the child: a chunk that fails is tolerated, and Finalize reports its lines.
    assert "Catch" not in submit_chunk
    assert submit_chunk["Next"] == "WaitForChunk"


def test_a_chunk_is_checked_until_done_after_each_wait(sandbox_definition: dict[str, Any]) -> None:
    child = states(sandbox_definition)["Submit"]["ItemProcessor"]["States"]
    assert child["WaitForChunk"] == {"Type": "Wait", "Seconds": 39, "Next": "CheckChunk"}
    check = child["CheckChunk"]
    assert check["Parameters"] == {"batch_id.$": "$.batch_id", "deadline.$": "$.deadline", "lines.$": "$.lines"}
    assert (check["Retry"], check["Next"]) == ([SERVICE_RETRY, THROTTLED_RETRY], "IsChunkDone")
    assert child["IsChunkDone"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "ChunkDone"}],
        "Default": "WaitForChunk",
    }
    # A child's output is {}: the Map gathers them all into its own, within 256 KiB.
    assert child["ChunkDone"] == {"Type": "Pass", "Result": {}, "End": True}


@pytest.mark.parametrize(("window_h", "interval_s"), [(1, 30), (18, 30), (24, 39), (168, 273)])
def test_a_child_polls_every_30_s_unless_its_history_would_outgrow_25000_events(window_h: int, interval_s: int) -> None:
    assert poll_interval_s(window_h * 3600) == interval_s
    # 9 events a poll over the whole window stay within the 20,000 events given to polling.
    assert window_h * 3600 / interval_s * 9 <= 20_000


def test_finalize_takes_the_batch_id_and_the_batch_is_done(sandbox_definition: dict[str, Any]) -> None:
    finalize = states(sandbox_definition)["Finalize"]
    assert finalize["Parameters"] == {"batch_id.$": "$.batch_id"}
    assert (finalize["Retry"], finalize["Catch"], finalize["Next"]) == ([SERVICE_RETRY], CATCH, "Done")
    assert states(sandbox_definition)["Done"] == {"Type": "Succeed"}


def test_an_uncaught_error_marks_the_batch_failed_and_fails_the_execution_with_it(sandbox_definition: dict[str, Any]) -> None:
    mark_failed = states(sandbox_definition)["MarkFailed"]
    assert mark_failed["Parameters"] == {"batch_id.$": "$.batch_id", "error.$": "$.error"}
    # The state keeps the caught error for the Fail state: the execution fails with the original error and cause.
    assert (mark_failed["ResultPath"], mark_failed["Next"], "Catch" in mark_failed) == (None, "Failed", False)
    assert states(sandbox_definition)["Failed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_cfn_lint_checks_the_definition(sandbox: Built) -> None:
    # cfn-lint's Step Functions rules read the DefinitionString: the synthesized one is clean, a broken one is reported.
    clean = sandbox.template.to_json()
    assert lint(clean, ignored=IGNORED, regions=["us-east-1"]) == []
    for broken_text, expected in (
        # A state of an unknown type, and a Task without its Resource.
        (lambda text: text.replace('"Type":"Wait"', '"Type":"Sleep"'), "Sleep"),
        (lambda text: text.replace('"Resource":"${FinalizeFunctionArn}",', ""), "Resource"),
    ):
        broken = copy.deepcopy(clean)
        (state_machine,) = [r for r in broken["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
        properties = state_machine["Properties"]
        changed = broken_text(properties["DefinitionString"])
        assert changed != properties["DefinitionString"]
        properties["DefinitionString"] = changed
        reported = lint(broken, ignored=IGNORED, regions=["us-east-1"])
        assert reported and all(line.startswith("E3601 ") for line in reported), reported
        assert any(expected in line for line in reported), reported


def test_the_definition_names_its_references_as_substitutions(sandbox: Built) -> None:
    (state_machine,) = sandbox.template.find_resources("AWS::StepFunctions::StateMachine").values()
    substitutions = state_machine["Properties"]["DefinitionSubstitutions"]
    steps = ("Validate", "Wake", "SubmitChunk", "CheckChunk", "Finalize", "MarkFailed")
    assert substitutions == {
        **{f"{s}FunctionArn": {"Fn::GetAtt": [sandbox.logical_id(sandbox.functions[s]), "Arn"]} for s in steps},
        "PayloadBucketName": {"Ref": sandbox.logical_id(sandbox.parts.payloads.bucket)},
        "Partition": {"Ref": "AWS::Partition"},
    }


# --- the Lambdas ---


def test_one_function_per_handler(sandbox: Built) -> None:
    assert {name: sandbox.function(name)["Properties"]["Handler"] for name in sandbox.functions} == HANDLERS


@pytest.mark.parametrize(
    ("name", "memory_mb", "timeout_s"),
    [
        ("Api", 256, 15),
        # Reads a whole input file (200 MB) and checks each line; writes every line's result.
        ("Validate", 1024, 900),
        ("Finalize", 1024, 900),
        ("Wake", 256, 30),
        ("SubmitChunk", 256, 300),
        ("CheckChunk", 256, 120),
        ("MarkFailed", 256, 30),
        ("Tracker", 256, 30),
    ],
)
def test_each_function_has_the_memory_and_timeout_its_work_needs(sandbox: Built, name: str, memory_mb: int, timeout_s: int) -> None:
    properties = sandbox.function(name)["Properties"]
    assert (properties["MemorySize"], properties["Timeout"]) == (memory_mb, timeout_s)
    assert (properties["Runtime"], properties["TracingConfig"]) == ("python3.14", {"Mode": "Active"})
    # The inference API's asset and Powertools layer.
    api = sandbox.template.to_json()["Resources"][sandbox.logical_id(sandbox.parts.api.function)]["Properties"]
    assert (properties["Code"], properties["Layers"]) == (api["Code"], api["Layers"])


def test_each_function_writes_to_a_log_group_of_its_own(sandbox: Built) -> None:
    groups = {name: sandbox.function(name)["Properties"]["LoggingConfig"]["LogGroup"] for name in sandbox.functions}
    assert len({json.dumps(group) for group in groups.values()}) == len(HANDLERS)
    for name, function in sandbox.functions.items():
        assert ("logs:CreateLogStream", f"logs:{name}") in sandbox.grants(function.role)


def test_every_function_gets_the_batch_contracts_environment(sandbox: Built) -> None:
    for name in sandbox.functions:
        variables = sandbox.function(name)["Properties"]["Environment"]["Variables"]
        expected = {v for k, v in contract.VARIABLES.items() if k != "state_machine_arn" or name == "Api"}
        assert set(variables) == expected, name
        assert {k: variables[k] for k in ("ENGINE", "MAX_FILE_BYTES", "MAX_LINES", "COMPLETION_WINDOWS", "POWERTOOLS_SERVICE_NAME")} == {
            "ENGINE": "tgi", "MAX_FILE_BYTES": "200000000", "MAX_LINES": "50000", "COMPLETION_WINDOWS": "24h",
            "POWERTOOLS_SERVICE_NAME": "llm-async-batch",
        }  # fmt: skip
    api_variables = sandbox.function("Api")["Properties"]["Environment"]["Variables"]
    assert api_variables["STATE_MACHINE_ARN"] == {"Ref": sandbox.logical_id(sandbox.batch.state_machine)}


def test_lines_are_checked_against_the_inference_apis_own_limits(sandbox: Built) -> None:
    inference = sandbox.template.to_json()["Resources"][sandbox.logical_id(sandbox.parts.api.function)]
    inference_variables = inference["Properties"]["Environment"]["Variables"]
    for name in sandbox.functions:
        variables = sandbox.function(name)["Properties"]["Environment"]["Variables"]
        shared = set(variables) & set(inference_variables) - {"POWERTOOLS_SERVICE_NAME"}
        assert {k: variables[k] for k in shared} == {k: inference_variables[k] for k in shared}, name


# --- IAM, per function ---

_LOGS_AND_XRAY = {("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*")}


def _objects(prefix: str, *actions: str) -> set[tuple[str, str]]:
    return {(f"s3:{action}", f"payloads/{prefix}/*") for action in actions}


_LIST = {("s3:ListBucket", "payloads")}
_DECRYPT, _ENCRYPT = ("kms:Decrypt", "payload-key"), ("kms:GenerateDataKey", "payload-key")
_BATCH_STATE = _objects("batches", "GetObject", "PutObject") | _LIST | {_DECRYPT, _ENCRYPT}
GRANTS = {
    # Files (the presigned upload and download are S3 requests as this role), batch records, starting executions.
    # A batch whose execution could not start is removed again (its record and the caller's marker).
    "Api": _BATCH_STATE
    | _objects("batches", "DeleteObject")
    | _objects("files", "GetObject", "PutObject")
    | {("states:StartExecution", "state-machine")},
    "Validate": _BATCH_STATE | _objects("files", "GetObject"),
    # inference_api.wake.Waker: its election marker under input/.wake/, the endpoint's instance count, the wake alarm.
    "Wake": _objects("input", "PutObject")
    | {_ENCRYPT, ("sagemaker:DescribeEndpoint", "endpoint"), ("cloudwatch:SetAlarmState", "wake-alarm")},
    # Each line's request: written once (the lock), deleted again when throttled; then invoked.
    "SubmitChunk": _BATCH_STATE
    | _objects("input", "GetObject", "PutObject", "DeleteObject")
    | {("sagemaker:InvokeEndpointAsync", "endpoint")},
    "CheckChunk": _BATCH_STATE | _objects("input", "GetObject"),
    "Finalize": _BATCH_STATE | _objects("output", "GetObject") | _objects("failure", "GetObject") | _objects("files", "PutObject"),
    "MarkFailed": _BATCH_STATE,
    "Tracker": _BATCH_STATE
    | _objects("input", "GetObject")
    | {(f"sqs:{a}", "tracker-queue") for a in ("ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl", "ReceiveMessage")}
    | {("kms:Decrypt", "queue-key")},
}


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_is_granted_what_its_step_does_on_its_prefixes_only(sandbox: Built, name: str) -> None:
    function = sandbox.functions[name]
    granted = sandbox.grants(function.role) - {(f"logs:{a}", f"logs:{name}") for a in ("CreateLogStream", "PutLogEvents")}
    assert granted == GRANTS[name] | _LOGS_AND_XRAY


def test_the_state_machine_invokes_the_six_steps_and_reads_the_items(sandbox: Built) -> None:
    steps = ("Validate", "Wake", "SubmitChunk", "CheckChunk", "Finalize", "MarkFailed")
    role = sandbox.batch.state_machine.role
    invoke = {("lambda:InvokeFunction", f"fn:{s}") for s in steps} | {("lambda:InvokeFunction", f"fn:{s}:*") for s in steps}
    delivery = {
        (f"logs:{a}", "*")
        for a in ("CreateLogDelivery", "DeleteLogDelivery", "DescribeLogGroups", "DescribeResourcePolicies", "GetLogDelivery",
                  "ListLogDeliveries", "PutResourcePolicy", "UpdateLogDelivery")
    } | {(f"xray:{a}", "*") for a in ("GetSamplingRules", "GetSamplingTargets", "PutTelemetryRecords", "PutTraceSegments")}  # fmt: skip
    # The ItemReader's read on batches/ only (CDK's reader would grant the whole bucket), and the key to decrypt it.
    items = {("s3:GetObject", "payloads/batches/*"), _DECRYPT}
    executions = "arn:aws:states:us-east-1:123456789012:execution:<name>"
    own_executions = {
        ("states:StartExecution", "state-machine"),
        ("states:DescribeExecution", f"{executions}:*"),
        ("states:StopExecution", f"{executions}:*"),
        ("states:RedriveExecution", f"{executions}/Submit:*"),
    }
    assert sandbox.grants(role) == invoke | delivery | items | own_executions


def test_invoke_endpoint_async_only_by_submit_chunk_and_no_batch_role_reads_the_whole_bucket(sandbox: Built) -> None:
    roles = [f.role for f in sandbox.functions.values()] + [sandbox.batch.state_machine.role]
    grants = set().union(*(sandbox.grants(role) for role in roles))
    assert [r for a, r in grants if a == "sagemaker:InvokeEndpointAsync"] == ["endpoint"]
    assert {r for _, r in grants if r.startswith("payloads")} == {
        "payloads", *(f"payloads/{prefix}/*" for prefix in ("batches", "files", "input", "output", "failure"))
    }


def test_grant_invoke_is_execute_api_on_the_six_batch_routes_only(sandbox: Built) -> None:
    api_id = sandbox.logical_id(sandbox.parts.api.rest_api)
    stage_id = sandbox.stack.get_logical_id(sandbox.parts.api.rest_api.deployment_stage.node.default_child)
    prefix = f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/{stage_id}"
    assert sandbox.grants(sandbox.caller) == {
        ("execute-api:Invoke", f"{prefix}/{route}")
        for route in (
            "POST/files", "GET/files/*/content", "POST/batches", "GET/batches", "GET/batches/*", "POST/batches/*/cancel",
        )
    }  # fmt: skip


# --- the tracker ---


def test_the_tracker_queue_is_kms_encrypted_tls_only_with_a_dead_letter_queue(sandbox: Built) -> None:
    resources = sandbox.template.to_json()["Resources"]
    queue = resources[sandbox.logical_id(sandbox.batch.tracker_queue)]["Properties"]
    key = {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.tracker_queue_key), "Arn"]}
    dead_letters = sandbox.logical_id(sandbox.batch.tracker_dead_letters)
    assert queue == {
        "KmsMasterKeyId": key,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dead_letters, "Arn"]}, "maxReceiveCount": 5},
        # Six times the tracker's 30 s timeout.
        "VisibilityTimeout": 180,
    }
    for queue_construct in (sandbox.batch.tracker_queue, sandbox.batch.tracker_dead_letters, sandbox.batch.delivery_dead_letters):
        queue_id = sandbox.logical_id(queue_construct)
        assert resources[queue_id]["Properties"]["KmsMasterKeyId"] == key
        assert deny_plain_http_to_queue(queue_id) in queue_policy_statements(sandbox.template, queue_id)


def test_the_queue_is_subscribed_to_both_topics_as_sns_envelopes_with_a_delivery_dead_letter_queue(sandbox: Built) -> None:
    subscriptions = sandbox.template.find_resources("AWS::SNS::Subscription").values()
    topics = sandbox.parts.topics
    assert sorted(json.dumps(s["Properties"], sort_keys=True) for s in subscriptions) == sorted(
        json.dumps(
            {
                "Endpoint": {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.tracker_queue), "Arn"]},
                "Protocol": "sqs",
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.delivery_dead_letters), "Arn"]}},
                "TopicArn": {"Ref": sandbox.logical_id(topic)},
            },
            sort_keys=True,
        )
        for topic in (topics.success_topic, topics.error_topic)
    )


def test_the_tracker_reads_the_queue_in_batches_reporting_each_failed_message(sandbox: Built) -> None:
    (mapping,) = sandbox.template.find_resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"] == {
        "BatchSize": 10,
        "EventSourceArn": {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.tracker_queue), "Arn"]},
        "FunctionName": {"Ref": sandbox.logical_id(sandbox.batch.tracker)},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 10},
    }


def test_sns_may_use_the_queue_key_for_the_two_topics_only(sandbox: Built) -> None:
    key = sandbox.template.to_json()["Resources"][sandbox.logical_id(sandbox.batch.tracker_queue_key)]["Properties"]
    sns = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "sns.amazonaws.com"}]
    topics = sandbox.parts.topics
    assert sorted(json.dumps(s, sort_keys=True) for s in sns) == sorted(
        json.dumps(
            {
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": sandbox.logical_id(topic)}}},
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Resource": "*",
            },
            sort_keys=True,
        )
        for topic in (topics.success_topic, topics.error_topic)
    )
    assert key["EnableKeyRotation"] is True


# --- the API routes ---


def _methods(built: Built) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(path, HTTP method) → (logical id, properties) of every method of the REST API."""
    resources = built.template.find_resources("AWS::ApiGateway::Resource")

    def path(resource_id: dict[str, Any]) -> str:
        if "Ref" not in resource_id:
            return ""
        resource = resources[resource_id["Ref"]]["Properties"]
        return f"{path(resource['ParentId'])}/{resource['PathPart']}"

    return {
        (path(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): (logical_id, m["Properties"])
        for logical_id, m in built.template.find_resources("AWS::ApiGateway::Method").items()
    }


def test_the_six_routes_are_sigv4_lambda_proxies_of_the_batch_api(sandbox: Built) -> None:
    batch_routes = {k: v for k, v in _methods(sandbox).items() if not k[0].startswith("/invocations")}
    assert sorted(batch_routes) == sorted(
        [
            ("/files", "POST"), ("/files/{file_id}/content", "GET"), ("/batches", "POST"), ("/batches", "GET"),
            ("/batches/{batch_id}", "GET"), ("/batches/{batch_id}/cancel", "POST"),
        ]
    )  # fmt: skip
    function_arn = {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.api_function), "Arn"]}
    for _, properties in batch_routes.values():
        assert properties["AuthorizationType"] == "AWS_IAM"
        integration = properties["Integration"]
        assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
        assert function_arn in integration["Uri"]["Fn::Join"][1]


def test_path_parameters_are_required_and_bodies_are_objects_checked_before_the_lambda(sandbox: Built) -> None:
    methods = _methods(sandbox)
    validator = {"Ref": sandbox.stack.get_logical_id(sandbox.parts.api.rest_api.node.find_child("Validator").node.default_child)}
    expected = {
        ("/files", "POST"): ({}, True),
        ("/files/{file_id}/content", "GET"): ({"method.request.path.file_id": True}, False),
        ("/batches", "POST"): ({}, True),
        ("/batches", "GET"): ({"method.request.querystring.limit": False, "method.request.querystring.after": False}, False),
        ("/batches/{batch_id}", "GET"): ({"method.request.path.batch_id": True}, False),
        ("/batches/{batch_id}/cancel", "POST"): ({"method.request.path.batch_id": True}, False),
    }
    models = sandbox.template.find_resources("AWS::ApiGateway::Model")
    for route, (parameters, body) in expected.items():
        properties = methods[route][1]
        assert properties["RequestValidatorId"] == validator, route
        assert properties.get("RequestParameters", {}) == parameters, route
        assert ("RequestModels" in properties) == body, route
        if body:
            model = models[properties["RequestModels"]["application/json"]["Ref"]]["Properties"]
            assert model["Schema"] == {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}


def test_the_inference_routes_keep_their_logical_ids(sandbox: Built) -> None:
    stack = bare_stack()
    Parts(stack).api  # the inference API alone
    alone = _methods(Built(stack, template(stack), None, None, None, {}))  # type: ignore[arg-type]
    with_batch = _methods(sandbox)
    assert {route: with_batch[route][0] for route in alone} == {route: ids[0] for route, ids in alone.items()}


# --- metrics ---


def test_failed_executions_count_failures_and_timeouts(sandbox: Built) -> None:
    metric = sandbox.batch.metric_executions_failed()
    config = metric.to_metric_config().math_expression
    assert config is not None and config.expression == "failed + timed_out"
    names = {name: m.metric_name for name, m in config.using_metrics.items()}
    assert names == {"failed": "ExecutionsFailed", "timed_out": "ExecutionsTimedOut"}


def test_the_batch_metrics_are_the_contracts_with_its_service_dimension(sandbox: Built) -> None:
    metric = sandbox.batch.metric_batch(contract.BATCH_LINES_SUBMITTED, period=cdk.Duration.minutes(1))
    assert (metric.namespace, metric.dimensions, metric.statistic) == (
        "llm-async-sandbox", {"service": "llm-async-batch"}, "Sum",
    )  # fmt: skip
    with pytest.raises(ValueError, match="^Nope is not one of the batch Lambdas' metrics: BatchesCreated, "):
        sandbox.batch.metric_batch("Nope", period=cdk.Duration.minutes(1))


def test_lambda_errors_sum_every_batch_function(sandbox: Built) -> None:
    config = sandbox.batch.metric_lambda_errors().to_metric_config().math_expression
    assert config is not None and config.expression == " + ".join(f"e{i}" for i in range(8))
    assert {m.dimensions["FunctionName"] for m in config.using_metrics.values()} == {
        f.function_name for f in sandbox.batch.all_functions
    }


# --- findings ---


def test_each_function_acknowledges_what_the_inference_apis_does_with_its_own_evidence(sandbox: Built) -> None:
    for name in HANDLERS:
        at_function = {f for (path, f) in sandbox.acknowledged if path == f"Batch/Functions/{name}"}
        assert at_function == {
            "HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ", "Serverless-LambdaDLQ",
            "HIPAA.Security-LambdaConcurrency", "NIST.800.53.R5-LambdaConcurrency",
            "HIPAA.Security-LambdaInsideVPC", "NIST.800.53.R5-LambdaInsideVPC", "PCI.DSS.321-LambdaInsideVPC",
        }, name  # fmt: skip
    dlq = {path: reason for (path, f), reason in sandbox.acknowledged.items() if f == "Serverless-LambdaDLQ"}
    assert "API Gateway invokes this function synchronously" in dlq["Batch/Functions/Api"]
    assert "Step Functions invokes this function synchronously" in dlq["Batch/Functions/SubmitChunk"]
    assert "SQS event source mapping" in dlq["Batch/Functions/Tracker"]


def test_every_acknowledgment_states_its_evidence(sandbox: Built) -> None:
    assert sandbox.acknowledged
    assert all(len(reason) > 60 for reason in sandbox.acknowledged.values())


def test_checkov_skips_sit_on_each_function_with_their_reasons(sandbox: Built) -> None:
    for name in HANDLERS:
        skips = sandbox.function(name)["Metadata"]["checkov"]["skip"]
        assert [skip["id"] for skip in skips] == ["CKV_AWS_116", "CKV_AWS_115", "CKV_AWS_117", "CKV_AWS_173"], name
        assert all(len(skip["comment"]) > 60 for skip in skips)


# --- VPC mode ---


def test_in_vpc_mode_every_function_runs_in_the_private_subnets(vpc: Built) -> None:
    security_group = vpc.parts.network.function_security_group  # type: ignore[union-attr]
    for name in HANDLERS:
        config = vpc.function(name)["Properties"]["VpcConfig"]
        assert config["SecurityGroupIds"] == [{"Fn::GetAtt": [vpc.logical_id(security_group), "GroupId"]}], name
        assert len(config["SubnetIds"]) == 2
        assert ("ec2:CreateNetworkInterface" in {a for a, _ in vpc.grants(vpc.functions[name].role)}), name
    assert {f for (path, f) in vpc.acknowledged if path == "Batch/Functions/Api" and "InsideVPC" in f} == set()


def test_in_vpc_mode_the_api_reaches_step_functions_through_an_interface_endpoint(vpc: Built) -> None:
    network = vpc.parts.network
    assert network is not None and network.endpoint_security_group is not None
    endpoint = vpc.template.to_json()["Resources"][vpc.logical_id(vpc.batch.states_endpoint)]["Properties"]
    assert endpoint["ServiceName"] == "com.amazonaws.us-east-1.states"
    assert endpoint["PrivateDnsEnabled"] is True
    assert endpoint["SecurityGroupIds"] == [{"Fn::GetAtt": [vpc.logical_id(network.endpoint_security_group), "GroupId"]}]


# --- the monitoring section ---


def test_the_batch_section_pages_on_failed_executions_dead_letters_and_lambda_errors(sandbox: Built) -> None:
    section = batch_section(sandbox.batch)
    alarms = {spec.id_: spec for spec in section.alarms}
    assert sorted(alarms) == ["BatchExecutionsFailed", "BatchLambdaErrors", "BatchTrackerDeadLetters"]
    for spec in alarms.values():
        # Any occurrence pages; a period without data is one without the event.
        assert (spec.threshold, spec.comparison) == (1, cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
        assert spec.treat_missing_data == cloudwatch.TreatMissingData.NOT_BREACHING
        assert len(spec.description) > 80
    expressions = {name: spec.metric.to_metric_config().math_expression for name, spec in alarms.items()}
    assert expressions["BatchExecutionsFailed"].expression == "failed + timed_out"  # type: ignore[union-attr]
    dead_letters = expressions["BatchTrackerDeadLetters"]
    assert dead_letters is not None and dead_letters.expression == "tracker + delivery"
    queues = {name: m.dimensions["QueueName"] for name, m in dead_letters.using_metrics.items()}
    assert {name: sandbox.ref(queue) for name, queue in queues.items()} == {
        "tracker": {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.tracker_dead_letters), "QueueName"]},
        "delivery": {"Fn::GetAtt": [sandbox.logical_id(sandbox.batch.delivery_dead_letters), "QueueName"]},
    }
    # Executions and lines, then batches: two dashboard rows.
    assert [len(row) for row in section.rows] == [3, 1]
