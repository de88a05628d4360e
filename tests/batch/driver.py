"""A local driver of the batch state machine: it runs the SYNTHESIZED definition, state by state, against moto S3.

What it reads from the template, and nothing else: the state machine's DefinitionString with its DefinitionSubstitutions
resolved, each Task's Resource (a function ARN) mapped to the handler named by that function's `Handler` property, the
functions' environments, and the tracker's event source mapping and queue (batch size, maximum receives). The handlers
are the `batch_jobs` package itself, imported as Lambda imports it.

What it interprets, as the Amazon States Language defines it (JSONPath): Task (a Lambda invoked by ARN; Retry with
IntervalSeconds, MaxAttempts, BackoffRate and JitterStrategy; Catch with ResultPath), Choice (BooleanEquals,
StringEquals, NumericEquals, IsPresent, And, Or, Not), Wait (Seconds, SecondsPath), Pass, Succeed, Fail (Error/Cause and
their paths) and a DISTRIBUTED Map (an S3 JSONL ItemReader, ItemSelector with `$$.Map.Item`, ItemBatcher with
MaxItemsPerBatch, MaxInputBytesPerBatch and BatchInput, MaxConcurrency, ToleratedFailurePercentage, its child workflows
interleaved on the clock); InputPath, Parameters, ResultSelector, ResultPath and OutputPath with `.$` fields and
`$`/`$.a.b` paths. Anything else in the definition is refused, so a definition this driver cannot run fails its tests.

No real sleeping: a Wait or a retry's interval advances a fake clock, and each advance lets the fake endpoint work.
`FakeEndpoint` stands in for SageMaker (runtime and control plane): InvokeEndpointAsync queues the request; once an
instance is up (woken by the wake alarm, after a cold start) it serves `concurrency` requests at a time in
`service_s` each, writes the output or failure object to S3, and publishes SageMaker's notification, which the driver
delivers to the tracker through the subscribed queue as SNS envelopes in SQS batches. Lines fail deterministically:
3 of every 100 (`FAILING_LINES`).
"""

from __future__ import annotations

import copy
import heapq
import importlib
import itertools
import json
import random
import re
import traceback
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from tests.batch.definition import definition

ACCOUNT, REGION = "123456789012", "us-east-1"
FAILING_LINES = (13, 47, 89)
"""A line fails in the fake endpoint when its number modulo 100 is one of these: 3 % of lines, the same ones each run."""

# A generator that yields the seconds it waits, and returns its result.
Run = Generator[float, None, Any]


class Clock:
    """Fake time (epoch seconds); `advance` is the only way it moves."""

    def __init__(self, start: float) -> None:
        self.now = start
        self._listeners: list[Callable[[float], None]] = []

    def __call__(self) -> float:
        return self.now

    def on_advance(self, listener: Callable[[float], None]) -> None:
        self._listeners.append(listener)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock cannot go back {seconds} s")
        self.now += seconds
        for listener in self._listeners:
            listener(self.now)


# --- the template ---


@dataclass(frozen=True)
class Function:
    logical_id: str
    arn: str
    handler: str
    """`<module>.<function>` in the asset, e.g. batch_jobs.steps.validate."""
    environment: dict[str, str]


@dataclass(frozen=True)
class Deployment:
    """What the driver takes from the synthesized template, every reference resolved."""

    definition: dict[str, Any]
    functions: dict[str, Function]
    """By ARN."""
    tracker: Function
    tracker_batch_size: int
    tracker_max_receives: int
    state_machine_arn: str


class Resolver:
    """CloudFormation references as a deployment would resolve them; names of stateful resources given by the test."""

    def __init__(self, template: dict[str, Any], names: dict[str, str]) -> None:
        self.resources = template["Resources"]
        self.names = names

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}"
        raise AssertionError(f"no ARN for {kind} {logical_id}")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            ref = value["Ref"]
            pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}
            if ref in pseudo:
                return pseudo[ref]
            if ref in self.names:
                return self.names[ref]
            kind = self.resources[ref]["Type"]
            if kind in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
                return self.arn(ref)
            raise AssertionError(f"no name given for {kind} {ref}")
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn":
                return self.arn(logical_id)
            properties = self.resources[logical_id]["Properties"]
            if attribute in properties:  # e.g. an endpoint's EndpointName
                return properties[attribute]
            raise AssertionError(f"no {attribute} of {logical_id}")
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(self(part) for part in parts)
        raise AssertionError(f"cannot resolve {value!r}")


def read_deployment(template: dict[str, Any], names: dict[str, str]) -> Deployment:
    """The batch state machine and its Lambdas from a synthesized template (with one batch state machine)."""
    resolve = Resolver(template, names)
    resources = template["Resources"]
    (machine_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::StepFunctions::StateMachine"]
    document = definition(resources[machine_id], resolve)
    leftover = re.findall(r"[$][{][A-Za-z0-9_]+[}]", json.dumps(document))
    if leftover:
        raise AssertionError(f"unsubstituted placeholders in the definition: {leftover}")
    functions = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        variables = {k: str(resolve(v)) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        function = Function(logical_id, resolve.arn(logical_id), props["Handler"], variables)
        functions[function.arn] = function
    (mapping,) = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::Lambda::EventSourceMapping"]
    tracker = next(f for f in functions.values() if f.logical_id == mapping["FunctionName"]["Ref"])
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    max_receives = resources[queue_id]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    return Deployment(
        document, functions, tracker, mapping["BatchSize"], max_receives, resolve.arn(machine_id)
    )


def handler_of(function: Function) -> Callable[[Any, Any], Any]:
    module, _, name = function.handler.rpartition(".")
    return getattr(importlib.import_module(module), name)


class LambdaContext:
    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = function.arn
        self.aws_request_id = str(uuid.uuid4())


# --- JSONPath, as far as the definition uses it ---

_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class StatesError(Exception):
    """An error of the execution with its ASL name (e.g. States.Runtime, or a Lambda's exception class name)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def _fields(path: str) -> list[str]:
    if not _PATH.match(path):
        raise StatesError("States.Runtime", f"the driver supports $ and $.a.b paths, not {path!r}")
    return path.split(".")[1:]


def get_path(data: Any, path: str, context: dict[str, Any]) -> Any:
    if path.startswith("$$"):
        data, path = context, path[1:]
    value = data
    for name in _fields(path):
        if not isinstance(value, dict) or name not in value:
            raise StatesError("States.Runtime", f"the path {path!r} matches nothing in {json.dumps(value)[:200]}")
        value = value[name]
    return copy.deepcopy(value)


def set_path(data: Any, path: str | None, value: Any) -> Any:
    """ResultPath: `value` placed into `data` (null discards it; `$` replaces the whole)."""
    if path is None:
        return data
    names = _fields(path)
    if not names:
        return value
    result = copy.deepcopy(data)
    target = result
    for name in names[:-1]:
        target = target.setdefault(name, {})
    target[names[-1]] = value
    return result


def render(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters, ItemSelector, BatchInput, ResultSelector: `<key>.$` fields take their path's value."""
    if isinstance(template, dict):
        rendered = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or value.startswith("States."):
                    raise StatesError("States.Runtime", f"the driver does not run intrinsic functions ({key}: {value})")
                rendered[key[:-2]] = get_path(data, value, context)
            else:
                rendered[key] = render(value, data, context)
        return rendered
    if isinstance(template, list):
        return [render(item, data, context) for item in template]
    return template


def _matches(errors: list[str], error: str) -> bool:
    return "States.ALL" in errors or error in errors or (error != "States.Runtime" and "States.TaskFailed" in errors)


# --- the execution ---

_KNOWN_FIELDS = {
    "Task": {"Type", "Resource", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Retry", "Catch", "Next", "End", "Comment"},
    "Choice": {"Type", "Choices", "Default", "InputPath", "OutputPath", "Comment"},
    "Wait": {"Type", "Seconds", "SecondsPath", "Next", "End", "InputPath", "OutputPath", "Comment"},
    "Pass": {"Type", "Result", "ResultPath", "Parameters", "InputPath", "OutputPath", "Next", "End", "Comment"},
    "Succeed": {"Type", "InputPath", "OutputPath", "Comment"},
    "Fail": {"Type", "Error", "Cause", "ErrorPath", "CausePath", "Comment"},
    "Map": {
        "Type", "ItemReader", "ItemSelector", "ItemBatcher", "ItemProcessor", "MaxConcurrency", "ToleratedFailurePercentage",
        "Label", "ResultPath", "ResultSelector", "InputPath", "OutputPath", "Catch", "Retry", "Next", "End", "Comment",
    },
}  # fmt: skip


@dataclass
class Event:
    """One entry of the driver's history: a state entered or left, a Lambda invoked, a Map child started or ended."""

    time: float
    kind: str
    state: str
    detail: Any = None


@dataclass
class Execution:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass
class Driver:
    deployment: Deployment
    clock: Clock
    s3: Any
    before_state: Callable[[str, Any], None] = lambda name, data: None
    """Called as a state is entered (its name and input): how a test acts in the middle of a run, e.g. cancels."""
    seed: int = 0
    history: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    # Lambda

    def invoke(self, arn: str, payload: Any) -> Any:
        function = self.deployment.functions.get(arn)
        if function is None:
            raise StatesError("States.TaskFailed", f"no Lambda function {arn} in the template")
        self.history.append(Event(self.clock.now, "invoke", function.handler, payload))
        event = json.loads(json.dumps(payload))
        try:
            result = handler_of(function)(event, LambdaContext(function))
        except Exception as error:  # noqa: BLE001  (a Lambda's error: its exception's name and message)
            cause = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__,
                                "stackTrace": traceback.format_tb(error.__traceback__)})  # fmt: skip
            raise StatesError(type(error).__name__, cause) from error
        return json.loads(json.dumps(result))

    # The machine

    def run(self, execution_input: Any, *, name: str) -> Execution:
        """Runs the whole execution, advancing the clock through every wait."""
        context = {"Execution": {"Name": name, "Input": execution_input, "Id": f"{self.deployment.state_machine_arn}:{name}"}}
        generator = self._machine(self.deployment.definition, execution_input, context)
        started = self.clock.now
        timeout = self.deployment.definition.get("TimeoutSeconds")
        try:
            while True:
                wait = next(generator)
                if timeout is not None and self.clock.now + wait - started > timeout:
                    return Execution("TIMED_OUT", error="States.Timeout")
                self.clock.advance(wait)
        except StopIteration as stop:
            status, value = stop.value
        except StatesError as failure:
            return Execution("FAILED", error=failure.error, cause=failure.cause)
        if status == "SUCCEEDED":
            return Execution(status, output=value)
        return Execution(status, error=value[0], cause=value[1])

    def _machine(self, machine: dict[str, Any], data: Any, context: dict[str, Any]) -> Run:
        """A state machine (or a Map's child workflow) from StartAt: ("SUCCEEDED", output) or ("FAILED", (error, cause))."""
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            unknown = set(state) - _KNOWN_FIELDS.get(state["Type"], set())
            if state["Type"] not in _KNOWN_FIELDS or unknown:
                raise StatesError("States.Runtime", f"the driver cannot run state {name}: {state['Type']} {sorted(unknown)}")
            self.before_state(name, data)
            self.history.append(Event(self.clock.now, "entered", name, data))
            kind = state["Type"]
            if kind == "Succeed":
                return "SUCCEEDED", self._output(state, self._input(state, data, context), context)
            if kind == "Fail":
                error = get_path(data, state["ErrorPath"], context) if "ErrorPath" in state else state.get("Error")
                cause = get_path(data, state["CausePath"], context) if "CausePath" in state else state.get("Cause")
                self.history.append(Event(self.clock.now, "failed", name, (error, cause)))
                return "FAILED", (error, cause)
            if kind == "Choice":
                effective = self._input(state, data, context)
                name = next((c["Next"] for c in state["Choices"] if _choose(c, effective, context)), state.get("Default"))
                if name is None:
                    raise StatesError("States.NoChoiceMatched", f"no choice of {state} matched")
                data = self._output(state, effective, context)
                continue
            try:
                if kind == "Wait":
                    effective = self._input(state, data, context)
                    seconds = state["Seconds"] if "Seconds" in state else get_path(effective, state["SecondsPath"], context)
                    yield float(seconds)
                    output = self._output(state, effective, context)
                elif kind == "Pass":
                    effective = self._input(state, data, context)
                    if "Parameters" in state:
                        effective = render(state["Parameters"], effective, context)
                    result = copy.deepcopy(state["Result"]) if "Result" in state else effective
                    output = self._output(state, set_path(data, state.get("ResultPath", "$"), result), context)
                elif kind == "Task":
                    output = yield from self._with_retries(state, name, data, context, self._task)
                else:  # Map
                    output = yield from self._with_retries(state, name, data, context, self._map)
            except StatesError as failure:
                catcher = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], failure.error)), None)
                self.history.append(Event(self.clock.now, "error", name, (failure.error, failure.cause)))
                if catcher is None:
                    return "FAILED", (failure.error, failure.cause)
                data = set_path(data, catcher.get("ResultPath", "$"), {"Error": failure.error, "Cause": failure.cause})
                name = catcher["Next"]
                continue
            self.history.append(Event(self.clock.now, "exited", name, output))
            if state.get("End"):
                return "SUCCEEDED", output
            name, data = state["Next"], output

    def _input(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        path = state.get("InputPath", "$")
        return {} if path is None else get_path(data, path, context)

    def _output(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        path = state.get("OutputPath", "$")
        return {} if path is None else get_path(data, path, context)

    def _with_retries(self, state: dict[str, Any], name: str, data: Any, context: dict[str, Any], body: Callable[..., Run]) -> Run:
        """A Task's or Map's work, retried per its Retry; then its ResultSelector, ResultPath and OutputPath."""
        attempts: dict[int, int] = {}
        while True:
            try:
                effective = self._input(state, data, context)
                if "Parameters" in state:
                    effective = render(state["Parameters"], effective, context)
                result = yield from body(state, name, effective, context)
                break
            except StatesError as failure:
                index = next((i for i, r in enumerate(state.get("Retry", [])) if _matches(r["ErrorEquals"], failure.error)), None)
                if index is None:
                    raise
                retrier = state["Retry"][index]
                attempt = attempts.get(index, 0)
                if attempt >= retrier.get("MaxAttempts", 3):
                    raise
                attempts[index] = attempt + 1
                interval = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempt
                if retrier.get("JitterStrategy") == "FULL":
                    interval = self._random.uniform(0, interval)
                self.history.append(Event(self.clock.now, "retry", name, (failure.error, attempt + 1, interval)))
                yield interval
        if "ResultSelector" in state:
            result = render(state["ResultSelector"], result, context)
        return self._output(state, set_path(data, state.get("ResultPath", "$"), result), context)

    def _task(self, state: dict[str, Any], name: str, effective: Any, context: dict[str, Any]) -> Run:
        resource = state["Resource"]
        if not resource.startswith("arn:aws:lambda:"):
            raise StatesError("States.Runtime", f"the driver runs Lambda functions by ARN, not {resource}")
        return self.invoke(resource, effective)
        yield  # a generator, like every state's work  # noqa: B901

    # The Distributed Map

    def _map(self, state: dict[str, Any], name: str, effective: Any, context: dict[str, Any]) -> Run:
        processor = state["ItemProcessor"]
        if processor.get("ProcessorConfig", {}).get("Mode") != "DISTRIBUTED" or "ItemReader" not in state:
            raise StatesError("States.Runtime", "the driver runs a DISTRIBUTED Map with an ItemReader only")
        items = self._read_items(state["ItemReader"], effective, context)
        selector = state.get("ItemSelector")
        selected = [
            render(selector, effective, {**context, "Map": {"Item": {"Index": index, "Value": item}}}) if selector else item
            for index, item in enumerate(items)
        ]
        batches = self._batches(state.get("ItemBatcher"), selected, effective, context)
        limit = state.get("MaxConcurrency") or len(batches) or 1
        self.history.append(Event(self.clock.now, "map-started", name, {"items": len(items), "children": len(batches)}))
        outputs: list[Any] = [None] * len(batches)
        failed = 0
        pending = list(enumerate(batches))[::-1]
        running: list[tuple[float, int, int, Run]] = []
        order = itertools.count()
        while pending or running:
            while pending and len(running) < limit:
                index, child_input = pending.pop()
                self.history.append(Event(self.clock.now, "child-started", name, index))
                child = self._machine(processor, child_input, {**context, "Map": {}})
                heapq.heappush(running, (self.clock.now, next(order), index, child))
            ready, _, index, child = heapq.heappop(running)
            if ready > self.clock.now:
                yield ready - self.clock.now
            try:
                wait = next(child)
            except StopIteration as stop:
                status, value = stop.value
                self.history.append(Event(self.clock.now, "child-ended", name, (index, status)))
                if status == "SUCCEEDED":
                    outputs[index] = value
                else:
                    failed += 1
                continue
            except StatesError as failure:
                self.history.append(Event(self.clock.now, "child-ended", name, (index, "FAILED", failure.error)))
                failed += 1
                continue
            heapq.heappush(running, (self.clock.now + wait, next(order), index, child))
        tolerated = state.get("ToleratedFailurePercentage", 0)
        if batches and failed * 100 / len(batches) > tolerated:
            raise StatesError("States.ExceedToleratedFailureThreshold", f"{failed} of {len(batches)} child workflows failed")
        return [output for output in outputs if output is not None]

    def _read_items(self, reader: dict[str, Any], effective: Any, context: dict[str, Any]) -> list[Any]:
        if not reader["Resource"].endswith(":states:::s3:getObject") or reader.get("ReaderConfig", {}).get("InputType") != "JSONL":
            raise StatesError("States.Runtime", f"the driver reads JSONL objects only, not {reader}")
        parameters = render(reader["Parameters"], effective, context)
        try:
            body = self.s3.get_object(Bucket=parameters["Bucket"], Key=parameters["Key"])["Body"].read()
        except Exception as error:  # noqa: BLE001
            raise StatesError("States.ItemReaderFailed", str(error)) from error
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def _batches(self, batcher: dict[str, Any] | None, items: list[Any], effective: Any, context: dict[str, Any]) -> list[Any]:
        if batcher is None:
            return items
        batch_input = render(batcher.get("BatchInput", {}), effective, context)
        most, largest = batcher.get("MaxItemsPerBatch"), batcher.get("MaxInputBytesPerBatch", 262_144)
        batches: list[list[Any]] = []
        for item in items:
            current = batches[-1] if batches else None
            fits = current is not None and (most is None or len(current) < most)
            if fits and len(json.dumps({"BatchInput": batch_input, "Items": [*current, item]})) > largest:  # type: ignore[list-item]
                fits = False
            if fits:
                current.append(item)  # type: ignore[union-attr]
            else:
                batches.append([item])
        return [{"BatchInput": batch_input, "Items": batch} for batch in batches]


def _choose(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_choose(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(_choose(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not _choose(rule["Not"], data, context)
    variable = rule["Variable"]
    if "IsPresent" in rule:
        try:
            get_path(data, variable, context)
            present = True
        except StatesError:
            present = False
        return present == rule["IsPresent"]
    value = get_path(data, variable, context)
    for operator, check in (
        ("BooleanEquals", lambda v, x: isinstance(v, bool) and v == x),
        ("StringEquals", lambda v, x: isinstance(v, str) and v == x),
        ("NumericEquals", lambda v, x: isinstance(v, (int, float)) and not isinstance(v, bool) and v == x),
    ):
        if operator in rule:
            return check(value, rule[operator])
    raise StatesError("States.Runtime", f"the driver does not evaluate {rule}")


# --- the endpoint and the tracker's queue ---


@dataclass
class _Request:
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    received: float


class FakeEndpoint:
    """SageMaker for the batch Lambdas: the sagemaker-runtime client (InvokeEndpointAsync), the sagemaker client
    (DescribeEndpoint) and the cloudwatch client (SetAlarmState on the wake alarm), with a queue served on the clock.

    At zero instances, requests wait; the wake alarm starts one instance `cold_start_s` later. Each instance serves
    `concurrency` requests at once, `service_s` each, in arrival order. A success writes the output object (a chat
    completion echoing the request's last message) and a Completed notification; a failing line (`FAILING_LINES`)
    writes the failure object and a Failed notification with the model's 500, as SageMaker reports a container error.
    """

    def __init__(
        self, *, s3: Any, clock: Clock, endpoint_name: str, wake_alarm_name: str, concurrency: int, service_s: float,
        cold_start_s: float = 300.0,
    ) -> None:  # fmt: skip
        self.s3, self.clock = s3, clock
        self.endpoint_name, self.wake_alarm_name = endpoint_name, wake_alarm_name
        self.concurrency, self.service_s, self.cold_start_s = concurrency, service_s, cold_start_s
        self.throttle_next = 0
        """How many of the next InvokeEndpointAsync calls SageMaker refuses with ThrottlingException."""
        self.instance_ready_at: float | None = None
        self.queue: list[_Request] = []
        self._free_at: list[float] = []
        self.invocations: list[tuple[float, str]] = []
        """(time, inference id) of every InvokeEndpointAsync accepted."""
        self.wakes: list[float] = []
        self.notifications: list[dict[str, Any]] = []
        """Published and not yet taken by the queue."""
        self.completed = self.failed = self.throttled = 0
        self.most_in_flight = 0
        clock.on_advance(self.work)

    # sagemaker-runtime

    def invoke_endpoint_async(self, **request: Any) -> dict[str, Any]:
        assert request["EndpointName"] == self.endpoint_name, request
        if self.throttle_next:
            self.throttle_next -= 1
            self.throttled += 1
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise ClientError(error, "InvokeEndpointAsync")
        assert request["ContentType"] == "application/json" and request["InputLocation"].startswith("s3://")
        inference_id = request["InferenceId"]
        assert 1 <= len(inference_id) <= 64
        bucket = urlparse(request["InputLocation"]).netloc
        queued = _Request(
            inference_id,
            request["InputLocation"],
            f"s3://{bucket}/output/{inference_id}.out",
            f"s3://{bucket}/failure/{inference_id}-error.out",
            self.clock.now,
        )
        self.queue.append(queued)
        self.invocations.append((self.clock.now, inference_id))
        self.most_in_flight = max(self.most_in_flight, len(self.queue))
        return {"InferenceId": inference_id, "OutputLocation": queued.output_location, "FailureLocation": queued.failure_location}

    # sagemaker and cloudwatch (inference_api.wake.Waker)

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        assert EndpointName == self.endpoint_name
        running = 1 if self.instance_ready_at is not None and self.instance_ready_at <= self.clock.now else 0
        desired = 1 if self.instance_ready_at is not None else 0
        return {"EndpointName": EndpointName, "ProductionVariants": [{"CurrentInstanceCount": running, "DesiredInstanceCount": desired}]}

    def set_alarm_state(self, AlarmName: str, StateValue: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        assert (AlarmName, StateValue) == (self.wake_alarm_name, "ALARM")
        self.wakes.append(self.clock.now)
        if self.instance_ready_at is None:
            self.instance_ready_at = self.clock.now + self.cold_start_s
            self._free_at = [self.instance_ready_at] * self.concurrency
        return {}

    # the queue, served as the clock moves

    def work(self, now: float) -> None:
        while self.queue and self._free_at:
            request = self.queue[0]
            slot = min(range(len(self._free_at)), key=self._free_at.__getitem__)
            done = max(self._free_at[slot], request.received) + self.service_s
            if done > now:
                return
            self.queue.pop(0)
            self._free_at[slot] = done
            self._finish(request, done)

    def _finish(self, request: _Request, at: float) -> None:
        location = urlparse(request.input_location)
        stored = self.s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))
        line = int(stored["Metadata"].get("batch-line", "0"))
        body = json.loads(stored["Body"].read())
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        note: dict[str, Any] = {
            "awsRegion": REGION, "eventTime": when, "receivedTime": when, "inferenceId": request.inference_id,
            "requestParameters": {"contentType": "application/json", "accept": "application/json",
                                  "endpointName": self.endpoint_name, "inputLocation": request.input_location},
            "eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "InferenceResult",
        }  # fmt: skip
        if line % 100 in FAILING_LINES:
            reason = "ClientError: Received server error (500) from primary with message \"model failed\"."
            target = urlparse(request.failure_location)
            self.s3.put_object(Bucket=target.netloc, Key=target.path.lstrip("/"), Body=reason.encode())
            note |= {"invocationStatus": "Failed", "failureReason": reason}
            self.failed += 1
        else:
            last = body["messages"][-1]["content"] if "messages" in body else body.get("prompt")
            answer = {"id": f"chatcmpl-{request.inference_id}", "object": "chat.completion", "model": "tgi",
                      "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": f"echo: {last}"}}]}  # fmt: skip
            target = urlparse(request.output_location)
            self.s3.put_object(Bucket=target.netloc, Key=target.path.lstrip("/"), Body=json.dumps(answer).encode())
            note |= {"invocationStatus": "Completed",
                     "responseParameters": {"contentType": "application/json", "outputLocation": request.output_location}}  # fmt: skip
            self.completed += 1
        self.notifications.append(note)


class TrackerQueue:
    """The tracker's SQS queue subscribed to both topics: SNS envelopes, delivered to the tracker's handler in batches of
    the event source mapping's size as the clock moves; a message reported failed comes back, and after the queue's
    maximum receives goes to the dead-letter queue."""

    def __init__(self, deployment: Deployment, endpoint: FakeEndpoint, clock: Clock) -> None:
        self.deployment, self.endpoint = deployment, endpoint
        self.messages: list[dict[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []
        self._receives: dict[str, int] = {}
        clock.on_advance(self.deliver)

    def deliver(self, _now: float = 0.0) -> None:
        for note in self.endpoint.notifications:
            topic = "success" if note["invocationStatus"] == "Completed" else "error"
            envelope = {"Type": "Notification", "MessageId": str(uuid.uuid4()),
                        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}", "Message": json.dumps(note)}  # fmt: skip
            self.messages.append({"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": json.dumps(envelope),
                                  "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:tracker"})  # fmt: skip
        self.endpoint.notifications.clear()
        handler = handler_of(self.deployment.tracker)
        while self.messages:
            batch = self.messages[: self.deployment.tracker_batch_size]
            del self.messages[: len(batch)]
            response = handler({"Records": batch}, LambdaContext(self.deployment.tracker))
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            for message in batch:
                if message["messageId"] not in failed:
                    continue
                self._receives[message["messageId"]] = self._receives.get(message["messageId"], 1) + 1
                if self._receives[message["messageId"]] > self.deployment.tracker_max_receives:
                    self.dead_letters.append(message)
                else:
                    self.messages.append(message)


class FakeStepFunctions:
    """The stepfunctions client of the batch API: StartExecution recorded, for the driver to run."""

    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn
        self.started: list[dict[str, Any]] = []

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:  # noqa: A002, N803
        assert stateMachineArn == self.state_machine_arn, stateMachineArn
        self.started.append({"name": name, "input": json.loads(input)})
        return {"executionArn": f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}", "startDate": datetime.now(UTC)}



def invocations_of(history: list[Event], handler: str) -> Iterator[Event]:
    return (event for event in history if event.kind == "invoke" and event.state == handler)
