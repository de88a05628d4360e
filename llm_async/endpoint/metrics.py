"""The metrics SageMaker publishes for an async endpoint: one definition read by the scaling policies, the
monitoring alarms and dashboard (through `AsyncEndpoint.metric_*`), and the simulator.

Source: SageMaker Developer Guide, "Monitoring asynchronous endpoints" (namespace AWS/SageMaker). The queue
metrics carry the `EndpointName` dimension only, so an alarm that adds `VariantName` never gets data;
the per-request metrics carry `EndpointName` and `VariantName`. Async endpoints publish no `Invocations`.
No aws-cdk-lib here: the simulator imports this module without it.
"""

from __future__ import annotations

NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
"""Host metrics (CPU, memory, GPU) of the endpoint's instances, per variant."""
ENDPOINT_DIMENSION = "EndpointName"
VARIANT_DIMENSION = "VariantName"

# Queue metrics: EndpointName only.
BACKLOG_SIZE = "ApproximateBacklogSize"
"""Requests queued or being processed."""
BACKLOG_SIZE_PER_INSTANCE = "ApproximateBacklogSizePerInstance"
"""BACKLOG_SIZE divided by the number of instances in service."""
AGE_OF_OLDEST_REQUEST = "ApproximateAgeOfOldestRequest"
"""Seconds the oldest request in the queue has waited."""
HAS_BACKLOG_WITHOUT_CAPACITY = "HasBacklogWithoutCapacity"
"""1 while requests wait and the endpoint has no instance, else 0."""
QUEUE_METRICS = (BACKLOG_SIZE, BACKLOG_SIZE_PER_INSTANCE, AGE_OF_OLDEST_REQUEST, HAS_BACKLOG_WITHOUT_CAPACITY)

# Per-request metrics: EndpointName and VariantName. Counts are published only for a period with an event.
INVOCATION_FAILURES = "InvocationFailures"
NOTIFICATION_FAILURES = "NotificationFailures"
REQUEST_DOWNLOAD_FAILURES = "RequestDownloadFailures"
RESPONSE_UPLOAD_FAILURES = "ResponseUploadFailures"
EXPIRED_REQUESTS = "ExpiredRequests"
MODEL_LATENCY = "ModelLatency"
"""Microseconds."""
TOTAL_PROCESSING_TIME = "TotalProcessingTime"
"""Milliseconds, from queueing to the notification."""
# The guide lists this metric as "InvocationsProcesssed"; other public code reads "InvocationsProcessed".
# Neither was checked against a live account, so the dashboard charts both.
INVOCATIONS_PROCESSED = ("InvocationsProcessed", "InvocationsProcesssed")
FAILURE_METRICS = (INVOCATION_FAILURES, NOTIFICATION_FAILURES, REQUEST_DOWNLOAD_FAILURES, RESPONSE_UPLOAD_FAILURES, EXPIRED_REQUESTS)
PER_VARIANT_METRICS = (*FAILURE_METRICS, MODEL_LATENCY, TOTAL_PROCESSING_TIME, *INVOCATIONS_PROCESSED)


def dimensions(metric_name: str, *, endpoint_name: str, variant_name: str) -> dict[str, str]:
    """The dimensions SageMaker publishes `metric_name` with, for one endpoint and variant."""
    if metric_name in QUEUE_METRICS:
        return {ENDPOINT_DIMENSION: endpoint_name}
    if metric_name in PER_VARIANT_METRICS:
        return {ENDPOINT_DIMENSION: endpoint_name, VARIANT_DIMENSION: variant_name}
    raise ValueError(f"{metric_name} is not an async endpoint metric of {NAMESPACE}")
