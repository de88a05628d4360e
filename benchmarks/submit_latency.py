"""Median (and p95) latency of the handler's submit path with moto standing in for S3 and SageMaker.

It measures our own code (validation, conditional S3 write, invoke, record, wake check) plus moto's
in-process overhead, not AWS network latency. Usage: python benchmarks/submit_latency.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "llm_async" / "api" / "runtime")]
os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # before the handler's Logger is created

# The test helpers set the handler's environment before the handler is imported: keep this order.
# isort: off
from tests.api.runtime.conftest import BUCKET, FakeContext, api_event  # noqa: E402
from inference_api import handler  # noqa: E402

# isort: on
import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402


def main(requests: int) -> None:
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        event = api_event("POST", "/invocations", {"inputs": "What are cookies?", "parameters": {"temperature": 0.1}})
        handler.lambda_handler(event, FakeContext())  # warm: clients created, imports done
        samples = []
        for _ in range(requests):
            start = time.perf_counter()
            response = handler.lambda_handler(event, FakeContext())
            samples.append(time.perf_counter() - start)
            assert response["statusCode"] == 202, response
    samples.sort()
    result = {
        "requests": requests,
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))] * 1000, 2),
    }
    print(json.dumps(result), file=sys.__stdout__)


if __name__ == "__main__":
    sys.stdout = open(os.devnull, "w")  # Powertools' metric lines; the figure goes to the real stdout
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
