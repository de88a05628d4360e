"""The batch state machine's definition (docs/design/batch-jobs.md, "State machine"): validate, wake the endpoint once,
submit the items in chunks on a Distributed Map whose child workflows track their chunk until every line has an
outcome, then finalize; any uncaught error marks the batch failed.

JSONPath throughout; each Lambda task names its input (`Parameters`) where it takes less than the whole state, and
invokes the function directly (`payload_response_only`): the handler's return value is the task's result.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from llm_async.storage.bucket import BATCHES_PREFIX, PayloadBucket

THROTTLED = "Throttled"
"""The error a step raises when SageMaker or S3 throttles it (the exception's class name in `batch_jobs`)."""
# Each child's input (BatchInput and its items) must fit Step Functions' 256 KiB payload quota; ItemBatcher starts a
# new chunk before one would exceed it.
MAX_CHUNK_INPUT_BYTES = 262_144
MAP_LABEL = "Submit"


@dataclass(frozen=True)
class StepFunctions:
    """The Lambda of each state (`batch_jobs.steps.*`)."""

    validate: lambda_.IFunction
    wake: lambda_.IFunction
    submit_chunk: lambda_.IFunction
    check_chunk: lambda_.IFunction
    finalize: lambda_.IFunction
    mark_failed: lambda_.IFunction


class _BatchItems(sfn.S3JsonLItemReader):
    """The JSONL reader of `batches/<id>/items.jsonl`, whose read is granted on the batches/ prefix only.

    CDK's reader grants s3:GetObject on the whole bucket (`<bucket>/*`): inputs, results and files included. Here
    the state machine gets `PayloadBucket.grant_prefix(batches/)` instead (with the key's Decrypt, which the reader
    does not grant), so the reader itself adds no statement."""

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return []


def definition(
    scope: Construct,
    *,
    steps: StepFunctions,
    payloads: PayloadBucket,
    chunk_lines: int,
    max_concurrency: int,
    poll_interval: cdk.Duration,
) -> sfn.IChainable:
    """The state machine's states, from `Validate`; its input is `{"batch_id": ...}`."""

    def task(
        id_: str, function: lambda_.IFunction, parameters: dict[str, str] | None = None, *, result_path: str | None = None
    ) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            scope,
            id_,
            lambda_function=function,
            payload=None if parameters is None else sfn.TaskInput.from_object(parameters),
            result_path=result_path,
            # The function's ARN as the Resource: the result is what the handler returns, not Lambda's envelope.
            payload_response_only=True,
            # Retries Lambda's own transient errors (ServiceException, AWSLambdaException, SdkClientException,
            # ClientExecutionTimeoutException): 2 s, ×2, 6 attempts.
            retry_on_service_exceptions=True,
        )

    def retry_throttling(state: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
        # Full jitter spreads the retries of many chunks throttled at once instead of retrying them in lockstep.
        state.add_retry(
            errors=[THROTTLED],
            interval=cdk.Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return state

    # --- the child workflow: one chunk of lines ---
    submit_chunk = retry_throttling(task("SubmitChunk", steps.submit_chunk))
    wait = sfn.Wait(scope, "WaitForChunk", time=sfn.WaitTime.duration(poll_interval))
    check_chunk = retry_throttling(
        task(
            "CheckChunk",
            steps.check_chunk,
            {"batch_id.$": "$.batch_id", "deadline.$": "$.deadline", "lines.$": "$.lines"},
        )
    )
    # The Map gathers every child's output into its own (no ResultWriter): a child returns {} (see config.MAX_CHUNKS).
    # A Pass, not a Succeed with OutputPath null: cfn-lint's schema of a Succeed state has no OutputPath.
    chunk_done = sfn.Pass(scope, "ChunkDone", result=sfn.Result.from_object({}))
    child = submit_chunk.next(wait).next(check_chunk).next(
        sfn.Choice(scope, "IsChunkDone")
        .when(sfn.Condition.boolean_equals("$.done", True), chunk_done)
        .otherwise(wait)
    )

    # --- the batch ---
    submit = sfn.DistributedMap(
        scope,
        MAP_LABEL,
        item_reader=_BatchItems(bucket=payloads.bucket, key=sfn.JsonPath.string_at("$.items_key")),
        # Each line of items.jsonl as SubmitChunk takes it: its body's byte range in bodies.jsonl, not the body, so
        # prompts stay out of the executions' history and a chunk of large bodies within the state's 256 KiB. The
        # batch's id and deadline once per chunk.
        item_selector={
            f"{field}.$": f"$$.Map.Item.Value.{field}" for field in ("line", "custom_id", "inference_id", "offset", "length")
        },
        item_batcher=sfn.ItemBatcher(
            max_items_per_batch=chunk_lines,
            max_input_bytes_per_batch=MAX_CHUNK_INPUT_BYTES,
            batch_input={"batch_id.$": "$.batch_id", "deadline.$": "$.deadline"},
        ),
        max_concurrency=max_concurrency,
        # A chunk that fails (its submit throttled past its retries) must not stop the others: Finalize reports
        # every line from its outcome, and lines without one as failed.
        tolerated_failure_percentage=100,
        map_execution_type=sfn.StateMachineType.STANDARD,
        label=MAP_LABEL,
        # Outcomes are in batches/<id>/done/, not in the state: Finalize gets the state Wake left.
        result_path=sfn.JsonPath.DISCARD,
    )
    submit.item_processor(child)

    # The state keeps the caught error, which the execution then fails with: ExecutionsFailed pages.
    mark_failed = task(
        "MarkFailed", steps.mark_failed, {"batch_id.$": "$.batch_id", "error.$": "$.error"}, result_path=sfn.JsonPath.DISCARD
    )
    failed = sfn.Fail(scope, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    mark_failed.next(failed)

    validate = task("Validate", steps.validate, {"batch_id.$": "$.batch_id"})
    wake = task("Wake", steps.wake)
    finalize = task("Finalize", steps.finalize, {"batch_id.$": "$.batch_id"})
    for state in (validate, wake, submit, finalize):
        state.add_catch(mark_failed, errors=[sfn.Errors.ALL], result_path="$.error")
    done = sfn.Succeed(scope, "Done")
    return validate.next(
        sfn.Choice(scope, "IsValid")
        .when(sfn.Condition.boolean_equals("$.valid", True), wake.next(submit).next(finalize).next(done))
        .otherwise(done)
    )


def grant_read_items(payloads: PayloadBucket, state_machine: sfn.StateMachine) -> None:
    """What the Distributed Map's ItemReader needs: GetObject on batches/ and the key's Decrypt."""
    payloads.grant_prefix(state_machine, BATCHES_PREFIX, read=True)
