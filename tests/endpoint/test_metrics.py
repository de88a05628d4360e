"""`llm_async/endpoint/metrics.py`: SageMaker's async metrics and the dimensions each is published with."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from llm_async.endpoint import metrics

ENDPOINT, VARIANT = "llm-async-prod-g5-2xlarge", "AllTraffic"


@pytest.mark.parametrize(
    "name",
    [
        "ApproximateBacklogSize",
        "ApproximateBacklogSizePerInstance",
        "ApproximateAgeOfOldestRequest",
        "HasBacklogWithoutCapacity",
    ],
)
def test_queue_metrics_carry_the_endpoint_name_only(name: str) -> None:
    # An alarm that adds VariantName to these never gets a datapoint.
    assert metrics.dimensions(name, endpoint_name=ENDPOINT, variant_name=VARIANT) == {"EndpointName": ENDPOINT}


@pytest.mark.parametrize(
    "name",
    [
        "InvocationFailures",
        "NotificationFailures",
        "RequestDownloadFailures",
        "ResponseUploadFailures",
        "ExpiredRequests",
        "ModelLatency",
        "TotalProcessingTime",
        "InvocationsProcessed",
        "InvocationsProcesssed",
    ],
)
def test_per_request_metrics_carry_the_endpoint_and_the_variant(name: str) -> None:
    assert metrics.dimensions(name, endpoint_name=ENDPOINT, variant_name=VARIANT) == {
        "EndpointName": ENDPOINT,
        "VariantName": VARIANT,
    }


def test_a_metric_async_endpoints_do_not_publish_is_refused() -> None:
    # Async endpoints publish no `Invocations`: a chart of it would stay empty.
    with pytest.raises(ValueError, match=r"^Invocations is not an async endpoint metric of AWS/SageMaker$"):
        metrics.dimensions("Invocations", endpoint_name=ENDPOINT, variant_name=VARIANT)


def test_no_metric_is_both_a_queue_and_a_per_request_metric() -> None:
    assert not set(metrics.QUEUE_METRICS) & set(metrics.PER_VARIANT_METRICS)
    assert len(set(metrics.PER_VARIANT_METRICS)) == len(metrics.PER_VARIANT_METRICS)


def test_both_spellings_of_invocations_processed_are_known() -> None:
    # The guide's "InvocationsProcesssed" and the "InvocationsProcessed" of other public code: neither checked live.
    assert metrics.INVOCATIONS_PROCESSED == ("InvocationsProcessed", "InvocationsProcesssed")


def test_namespaces() -> None:
    assert (metrics.NAMESPACE, metrics.INSTANCE_NAMESPACE) == ("AWS/SageMaker", "/aws/sagemaker/Endpoints")


def test_module_imports_nothing_so_the_simulator_can_read_it_without_the_cdk() -> None:
    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported == {"__future__"}
