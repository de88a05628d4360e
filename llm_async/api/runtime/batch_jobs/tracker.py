"""Records each batch line's outcome from SageMaker's async inference notifications, so the workflows never poll.

The event: an SQS batch (Lambda's SQS event: Records[].messageId, .body) whose bodies are SNS envelopes (Type
"Notification", the notification JSON as a string in Message; or the notification itself if the subscription has
raw message delivery on). The notification, as SageMaker documents it ("Check prediction results", Amazon SageMaker
AI Developer Guide, docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html; ../shared/FACTS.md):
success {"invocationStatus": "Completed", "inferenceId", "responseParameters": {"contentType", "outputLocation"},
"requestParameters", "awsRegion", "eventTime", "receivedTime", "eventVersion", "eventSource": "aws:sagemaker",
"eventName": "InferenceResult"}; error the same with "invocationStatus": "Failed", "failureReason" and no
responseParameters (some reports add a failureLocation, which is kept when present).

A line is known by its request object's metadata (`batch-id`, `batch-line`, written by SubmitChunk); an inference
without them is the inference API's and is ignored. A message that cannot be read is reported in batchItemFailures
(Lambda's partial batch response): SQS delivers it again, then moves it to the queue's dead-letter queue.
"""

from __future__ import annotations

import json
import os
import warnings
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_jobs import contract, records
from batch_jobs.contract import BatchEnvironment
from batch_jobs.records import BATCH_ID, Store, outcome

logger = Logger()
metrics = Metrics()
# Not every request or step has a metric to publish, which is no news: Powertools would warn at each such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")


class Unreadable(ValueError):
    """A message that is not a SageMaker async inference notification."""


@cache
def _store() -> Store:
    return Store(boto3.client("s3"), BatchEnvironment.from_environ(os.environ).bucket_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failures = []
    tally = {"completed": 0, "failed": 0, "ignored": 0, "already": 0}
    for message in event.get("Records", []):
        try:
            tally[_track(message)] += 1
        except Exception:  # noqa: BLE001  (any failure is this message's: the others still count)
            logger.exception("could not track a notification", extra={"message_id": message.get("messageId")})
            failures.append({"itemIdentifier": message.get("messageId")})
    if tally["completed"]:
        metrics.add_metric(name=contract.BATCH_LINES_COMPLETED, unit=MetricUnit.Count, value=tally["completed"])
    if tally["failed"]:
        metrics.add_metric(name=contract.BATCH_LINES_FAILED, unit=MetricUnit.Count, value=tally["failed"])
    logger.info("notifications", extra={**tally, "retried": len(failures)})
    return {"batchItemFailures": failures}


def notification(body: str) -> dict[str, Any]:
    """SageMaker's notification from an SQS message body: an SNS envelope's Message, or the notification itself."""
    try:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and envelope.get("Type") == "Notification":
            envelope = json.loads(envelope["Message"])
    except (TypeError, ValueError, KeyError) as error:
        raise Unreadable(f"not JSON: {error}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("inferenceId"), str):
        raise Unreadable("not a SageMaker async inference notification (no inferenceId)")
    if envelope.get("invocationStatus") not in ("Completed", "Failed"):
        raise Unreadable(f"invocationStatus must be Completed or Failed (got {envelope.get('invocationStatus')!r})")
    return envelope


def _track(message: dict[str, Any]) -> str:
    """'completed' or 'failed' (the outcome written), 'already' (the line had one), 'ignored' (not a batch line)."""
    note = notification(message.get("body", ""))
    inference_id = note["inferenceId"]
    store = _store()
    head = store.head(records.input_key(inference_id))
    metadata = (head or {}).get("Metadata", {})
    batch_id, line = metadata.get("batch-id"), metadata.get("batch-line")
    if batch_id is None:
        return "ignored"
    if not BATCH_ID.match(batch_id) or not (line or "").isdigit():
        raise Unreadable(f"input/{inference_id}.json names batch {batch_id!r} line {line!r}")
    if note["invocationStatus"] == "Completed":
        location = (note.get("responseParameters") or {}).get("outputLocation")
        if not location:
            raise Unreadable("a Completed notification without responseParameters.outputLocation")
        done = outcome(int(line), None, inference_id, "completed", output_location=location)
    else:
        failure = {"code": "inference_failed", "message": str(note.get("failureReason") or "the inference failed")}
        location = (note.get("responseParameters") or {}).get("failureLocation") or note.get("failureLocation")
        done = outcome(int(line), None, inference_id, "failed", error=failure, **({"failure_location": location} if location else {}))
    if not store.record_outcome(batch_id, done):
        return "already"
    return done["status"]
