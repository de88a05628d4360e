"""The local driver's own semantics on small definitions (tests/batch/driver.py): the paths, retries and catches, waits,
the Distributed Map and what it refuses, so that the end-to-end tests run the definition as Step Functions would."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.batch.driver import Clock, Deployment, Driver, Function, StatesError, get_path, render, set_path

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
CALLS: list[tuple[str, Any]] = []


class Flaky(Exception):
    pass


def echo(event: Any, context: Any) -> Any:
    CALLS.append(("echo", event))
    return {"echoed": event}


def flaky(event: Any, context: Any) -> Any:
    CALLS.append(("flaky", event))
    raise Flaky("not now")


def fail_odd_chunks(event: Any, context: Any) -> Any:
    CALLS.append(("chunk", event))
    if event["Items"][0]["n"] % 2:
        raise ValueError("odd")
    return {"n": len(event["Items"])}


def _driver(definition: dict[str, Any], s3: Any = None) -> Driver:
    functions = {
        f"{ARN}{name}": Function(name, f"{ARN}{name}", f"tests.batch.test_driver.{name}", {})
        for name in ("echo", "flaky", "fail_odd_chunks")
    }
    deployment = Deployment(definition, functions, functions[f"{ARN}echo"], 10, 5, "arn:aws:states:us-east-1:123456789012:stateMachine:t")
    return Driver(deployment, Clock(1000.0), s3)


def _items_in_s3(count: int, pad: int) -> Any:
    """Moto's S3 (under @mock_aws) with items-bucket/items.jsonl: items {"n": 0…count-1}, each padded with `pad` x's."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="items-bucket")
    lines = (json.dumps({"n": n, "pad": "x" * pad}).encode() + b"\n" for n in range(count))
    s3.put_object(Bucket="items-bucket", Key="items.jsonl", Body=b"".join(lines))
    return s3


def _items_reader(**key: str) -> dict[str, Any]:
    """A Map's ItemReader of a JSONL object in items-bucket; `key`: Key or Key.$."""
    return {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket": "items-bucket", **key},
    }


@pytest.fixture(autouse=True)
def _calls() -> None:
    CALLS.clear()


def test_paths_parameters_and_result_path() -> None:
    data = {"a": {"b": 1}, "c": [1, 2]}
    assert get_path(data, "$.a.b", {}) == 1
    assert get_path(data, "$$.Map.Item.Value", {"Map": {"Item": {"Value": 7}}}) == 7
    assert render({"x.$": "$.a", "y": {"z.$": "$.c"}, "k": "v"}, data, {}) == {"x": {"b": 1}, "y": {"z": [1, 2]}, "k": "v"}
    assert set_path(data, "$.r", 3) == {**data, "r": 3}
    assert set_path(data, None, 3) == data  # ResultPath null: the input is the output
    assert set_path(data, "$", 3) == 3
    for unsupported in ("$.a[0]", "$..b", "$.a.*"):
        with pytest.raises(StatesError, match="supports"):
            get_path(data, unsupported, {})
    with pytest.raises(StatesError, match="intrinsic"):
        render({"n.$": "States.ArrayLength($.c)"}, data, {})


def test_a_task_takes_its_parameters_and_places_its_result() -> None:
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": f"{ARN}echo", "Parameters": {"id.$": "$.id"}, "ResultPath": "$.out", "End": True,
    }}}  # fmt: skip
    execution = _driver(definition).run({"id": 7, "other": 1}, name="x")
    assert (execution.status, execution.output) == ("SUCCEEDED", {"id": 7, "other": 1, "out": {"echoed": {"id": 7}}})
    assert CALLS == [("echo", {"id": 7})]


def test_retries_wait_on_the_clock_then_the_catch_takes_the_error() -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": f"{ARN}flaky", "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2,
              "MaxAttempts": 3, "BackoffRate": 2}], "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "F"}],
              "End": True},
        "F": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    }}  # fmt: skip
    driver = _driver(definition)
    execution = driver.run({}, name="x")
    assert len(CALLS) == 4  # the attempt and 3 retries
    assert driver.clock.now == 1000.0 + 2 + 4 + 8  # no sleeping: the clock moved by the intervals
    assert (execution.status, execution.error) == ("FAILED", "Flaky")
    assert json.loads(execution.cause or "{}")["errorMessage"] == "not now"


def test_a_choice_and_a_wait_loop_until_done() -> None:
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "S"}], "Default": "P"},
        "P": {"Type": "Pass", "Result": True, "ResultPath": "$.done", "Next": "W"},
        "S": {"Type": "Succeed"},
    }}  # fmt: skip
    driver = _driver(definition)
    assert driver.run({"done": False}, name="x").output == {"done": True}
    assert driver.clock.now == 1060.0


def test_unknown_fields_and_state_types_are_refused() -> None:
    for state in ({"Type": "Task", "Resource": f"{ARN}echo", "Arguments": {}, "End": True}, {"Type": "Parallel", "End": True}):
        execution = _driver({"StartAt": "X", "States": {"X": state}}).run({}, name="x")
        assert (execution.status, execution.error) == ("FAILED", "States.Runtime"), execution


@mock_aws
def test_the_distributed_map_reads_batches_and_tolerates_failures() -> None:
    s3 = _items_in_s3(10, pad=40)
    map_state = {
        "Type": "Map", "ItemReader": _items_reader(**{"Key.$": "$.key"}),
        "ItemSelector": {"n.$": "$$.Map.Item.Value.n"},
        "ItemBatcher": {"MaxItemsPerBatch": 3, "BatchInput": {"key.$": "$.key"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C",
                          "States": {"C": {"Type": "Task", "Resource": f"{ARN}fail_odd_chunks", "End": True}}},
        "MaxConcurrency": 2, "ToleratedFailurePercentage": 50, "ResultPath": "$.results", "End": True,
    }  # fmt: skip
    driver = _driver({"StartAt": "M", "States": {"M": map_state}}, s3)
    execution = driver.run({"key": "items.jsonl"}, name="x")
    chunks = [event for name, event in CALLS if name == "chunk"]
    # 10 items in chunks of 3 (the selector drops "pad"), each with the BatchInput; chunks starting at 3 and 9 fail.
    assert [[item["n"] for item in c["Items"]] for c in chunks] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert all(c["BatchInput"] == {"key": "items.jsonl"} and set(c["Items"][0]) == {"n"} for c in chunks)
    assert (execution.status, execution.output["results"]) == ("SUCCEEDED", [{"n": 3}, {"n": 3}])
    map_state["ToleratedFailurePercentage"] = 40
    CALLS.clear()
    execution = _driver({"StartAt": "M", "States": {"M": map_state}}, s3).run({"key": "items.jsonl"}, name="x")
    assert (execution.status, execution.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


@mock_aws
def test_a_batch_is_cut_before_its_input_exceeds_max_input_bytes() -> None:
    s3 = _items_in_s3(6, pad=100)
    map_state = {
        "Type": "Map", "ItemReader": _items_reader(Key="items.jsonl"),
        "ItemBatcher": {"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 300},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "C",
                          "States": {"C": {"Type": "Task", "Resource": f"{ARN}echo", "End": True}}},
        "End": True,
    }  # fmt: skip
    _driver({"StartAt": "M", "States": {"M": map_state}}, s3).run({}, name="x")
    sizes = [len(event["Items"]) for name, event in CALLS]
    assert sum(sizes) == 6 and max(sizes) == 2  # two ~120-byte items fit in 300 bytes, three do not
