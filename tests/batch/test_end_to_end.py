"""Batch jobs end to end, locally: the synthesized state machine run by tests/batch/driver.py against moto S3, with the
`batch_jobs` handlers as the template names them and a fake endpoint that fails 3 % of lines.

Each scenario runs once for the module (a 1,000-line batch takes seconds of moto calls); its tests read the result:
a full batch (output and error files, counts, compared without regard to order), a cancel mid-way, an expiry, and a
file of invalid lines that invokes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from llm_async.batch.config import BatchConfig
from llm_async.environments import ENVIRONMENTS
from tests.batch.driver import (
    FAILING_LINES,
    Clock,
    Deployment,
    Driver,
    FakeEndpoint,
    FakeStepFunctions,
    LambdaContext,
    TrackerQueue,
    handler_of,
    invocations_of,
    read_deployment,
)
from tests.api.runtime.events import CHAT, answer, chat_line, jsonl, rest_event
from tests.conftest import run_directory
from tests.constructs import Parts, bare_stack, template
from tests.session_synths import WAIT_S, wait_for, write_atomically

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

BUCKET = "llm-async-e2e-payloads"
WAKE_ALARM = "llm-async-sandbox-wake"
CALLER = "arn:aws:iam::123456789012:role/batch-user"
# The fake endpoint: one instance after a 5-minute cold start, 20 s a request.
SERVICE_S, COLD_START_S = 20.0, 300.0


@pytest.fixture(scope="module")
def deployment() -> tuple[Deployment, dict[str, Any]]:
    """The sandbox's batch jobs in a bare stack, with a one-hour window beside the day (the expiry scenario's)."""
    stack = bare_stack()
    config = dataclasses.replace(ENVIRONMENTS["sandbox"](), batch=BatchConfig(completion_windows=("24h", "1h")))
    parts = Parts(stack, config)
    parts.batch  # built for its resources
    template_json = template(stack).to_json()
    names = {
        stack.get_logical_id(parts.payloads.bucket.node.default_child): BUCKET,
        stack.get_logical_id(parts.scaling.wake_alarm.node.default_child): WAKE_ALARM,
    }
    return read_deployment(template_json, names), template_json


@dataclasses.dataclass(frozen=True)
class Run:
    """What a scenario left, as plain data (shared between the session's workers as JSON): the execution, the batch as
    GET /batches/{id} answers it, its output and error files, what the fake endpoint and the tracker's queue saw, and
    the driver's history as (time, kind, state)."""

    execution: dict[str, Any]
    batch: dict[str, Any]
    output: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    invocations: list[tuple[float, str]]
    """(time, inference id) of every InvokeEndpointAsync."""
    wakes: list[float]
    completed: int
    failed: int
    most_in_flight: int
    dead_letters: int
    history: list[tuple[float, str, str]]
    retries: list[tuple[str, str, int]]
    """(state, error, attempt) of every retry the driver made."""
    throttled: int
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)

    def entered(self) -> list[str]:
        return [state for _, kind, state in self.history if kind == "entered"]

    def invoked(self, handler: str) -> list[float]:
        return [time_ for time_, kind, state in self.history if kind == "invoke" and state == handler]


def shared(directory: Path, name: str, compute: Callable[[], Run]) -> Run:
    """The scenario computed once for the whole session: the first worker to claim it runs it and writes its JSON;
    any other worker (pytest-xdist) waits for that file, as tests/session_synths.py shares the synths."""
    directory.mkdir(exist_ok=True)
    result, failed = directory / f"{name}.json", directory / f"{name}.failed"
    try:
        os.close(os.open(directory / f"{name}.claim", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        wait_for(result, failed, failure=f"scenario {name} failed in another worker",
                 timeout=f"no result of scenario {name} after {WAIT_S} s")
        data = json.loads(result.read_text())
        tuples = {name: [tuple(entry) for entry in data[name]] for name in ("invocations", "history", "retries")}
        return Run(**{**data, **tuples})
    try:
        run = compute()
    except BaseException:
        failed.write_text(traceback.format_exc())
        raise
    write_atomically(result, json.dumps(dataclasses.asdict(run)).encode())
    return run


@pytest.fixture(scope="session")
def scenarios_directory(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One directory for the whole run, all workers (as tests/conftest.py's session_synths_directory)."""
    return run_directory(tmp_path_factory, worker_id) / "batch-end-to-end"


class Harness:
    """moto, the handlers' clients and clock patched in, and the batch API called as API Gateway calls it."""

    def __init__(self, deployment: Deployment, template_json: dict[str, Any], monkeypatch: pytest.MonkeyPatch, **endpoint: Any) -> None:
        self.deployment = deployment
        environments = [f.environment for f in deployment.functions.values() if f.handler.startswith("batch_jobs.")]
        (api_environment,) = [e for e in environments if "STATE_MACHINE_ARN" in e]
        # Every batch Lambda has the API's environment less the state machine: one process environment serves all.
        assert all(e.items() <= api_environment.items() for e in environments)
        for name, value in {**api_environment, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_TRACE_DISABLED": "1"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        from batch_jobs import api, records, steps, tracker  # noqa: PLC0415  (after the environment, as Lambda imports it)
        from inference_api.wake import Waker  # noqa: PLC0415

        self.api, self.steps, self.tracker = api, steps, tracker
        for cached in (api._environment, steps._environment, steps._limits):
            cached.cache_clear()
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.clock = Clock(float(int(time.time())))
        store = records.Store(self.s3, BUCKET, clock=self.clock)
        (config,) = [r["Properties"] for r in template_json["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
        (endpoint_resource,) = [r["Properties"] for r in template_json["Resources"].values() if r["Type"] == "AWS::SageMaker::Endpoint"]
        concurrency = config["AsyncInferenceConfig"]["ClientConfig"]["MaxConcurrentInvocationsPerInstance"]
        self.endpoint = FakeEndpoint(
            s3=self.s3, clock=self.clock, endpoint_name=endpoint_resource["EndpointName"], wake_alarm_name=WAKE_ALARM,
            concurrency=endpoint.get("concurrency", concurrency), service_s=endpoint.get("service_s", SERVICE_S),
            cold_start_s=COLD_START_S,
        )  # fmt: skip
        self.queue = TrackerQueue(deployment, self.endpoint, self.clock)
        self.sfn = FakeStepFunctions(deployment.state_machine_arn)
        waker = Waker(sagemaker=self.endpoint, cloudwatch=self.endpoint, s3=self.s3, bucket=BUCKET,
                      endpoint_name=self.endpoint.endpoint_name, wake_alarm_name=WAKE_ALARM, clock=self.clock)  # fmt: skip
        for module in (api, steps, tracker):
            monkeypatch.setattr(module, "_store", lambda: store)
        monkeypatch.setattr(api, "_s3", lambda: self.s3)
        monkeypatch.setattr(api, "_stepfunctions", lambda: self.sfn)
        monkeypatch.setattr(steps, "_s3", lambda: self.s3)
        monkeypatch.setattr(steps, "_runtime", lambda: self.endpoint)
        monkeypatch.setattr(steps, "_waker", lambda: waker)
        # A line of JSON per step and notification otherwise; put back by `restore`.
        self._levels = [(module.logger, module.logger.log_level) for module in (api, steps, tracker)]
        for logger, _ in self._levels:
            logger.setLevel("WARNING")
        self.driver = Driver(deployment, self.clock, self.s3)

    def restore(self) -> None:
        for logger, level in self._levels:
            logger.setLevel(level)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        event = rest_event(method, path, body, resource=path, stage="v1", caller=CALLER)
        api_function = next(f for f in self.deployment.functions.values() if f.handler == "batch_jobs.api.lambda_handler")
        status, _, answered = answer(handler_of(api_function)(event, LambdaContext(api_function)))
        return status, answered

    def submit(self, content: bytes, *, window: str = "24h") -> dict[str, Any]:
        """POST /files, the upload (straight to moto: the presigned PUT is the client's tests'), POST /batches."""
        status, file = self.call("POST", "/files", {"purpose": "batch", "filename": "in.jsonl", "bytes": len(content)})
        assert status == 200, file
        self.s3.put_object(Bucket=BUCKET, Key=f"files/{file['id']}", Body=content)
        status, batch = self.call("POST", "/batches", {"input_file_id": file["id"], "endpoint": CHAT, "completion_window": window})
        assert status == 200, batch
        return batch

    def run(self, content: bytes, *, window: str = "24h", notes: dict[str, Any] | None = None) -> Run:
        batch = self.submit(content, window=window)
        (started,) = [s for s in self.sfn.started if s["name"] == batch["id"]]
        execution = self.driver.run(started["input"], name=started["name"])
        status, answered = self.call("GET", f"/batches/{batch['id']}")
        assert status == 200, answered
        endpoint = self.endpoint
        return Run(
            execution=dataclasses.asdict(execution),
            batch=answered,
            output=self.file(answered["output_file_id"]),
            errors=self.file(answered["error_file_id"]),
            invocations=list(endpoint.invocations),
            wakes=list(endpoint.wakes),
            completed=endpoint.completed,
            failed=endpoint.failed,
            most_in_flight=endpoint.most_in_flight,
            dead_letters=len(self.queue.dead_letters),
            history=[(event.time, event.kind, event.state) for event in self.driver.history],
            retries=[(e.state, e.detail[0], e.detail[1]) for e in self.driver.history if e.kind == "retry"],
            throttled=endpoint.throttled,
            notes=notes or {},
        )

    def file(self, file_id: str | None) -> list[dict[str, Any]]:
        """A result file, by GET /files/{id}/content's answer (a 303 to the object) and the object itself."""
        if file_id is None:
            return []
        status, body = self.call("GET", f"/files/{file_id}/content")
        assert status == 303 and f"files/{file_id}" in body["url"], body
        raw = self.s3.get_object(Bucket=BUCKET, Key=f"files/{file_id}")["Body"].read()
        return [json.loads(line) for line in raw.splitlines()]


def chat_lines(count: int) -> list[dict[str, Any]]:
    return [chat_line(f"req-{line}", f"Say {line}", max_tokens=16) for line in range(1, count + 1)]


@pytest.fixture(scope="module")
def harness(deployment: tuple[Deployment, dict[str, Any]]) -> Callable[..., AbstractContextManager[Harness]]:
    """A scenario's harness (`with harness(**endpoint) as h:`): its own moto account, patches undone after it."""

    @contextmanager
    def scenario(**endpoint: Any) -> Iterator[Harness]:
        with mock_aws(), pytest.MonkeyPatch.context() as patch:
            made = Harness(*deployment, patch, **endpoint)
            try:
                yield made
            finally:
                made.restore()

    return scenario


# --- a 1,000-line batch, 3 % failing ---

LINES = 1000


@pytest.fixture(scope="module")
def full(harness: Any, scenarios_directory: Path) -> Run:
    def scenario() -> Run:
        with harness() as h:
            return h.run(jsonl(chat_lines(LINES)))

    return shared(scenarios_directory, "full", scenario)


def _failing(count: int) -> set[str]:
    return {f"req-{line}" for line in range(1, count + 1) if line % 100 in FAILING_LINES}


def test_the_batch_completes_with_every_line_in_one_of_its_files(full: Run) -> None:
    assert full.execution["status"] == "SUCCEEDED", full.execution
    assert full.batch["status"] == "completed"
    failing = _failing(LINES)
    assert len(failing) == 30
    assert full.batch["request_counts"] == {"total": 1000, "completed": 970, "failed": 30}
    # Compared as sets: which line lands in which file, not in what order.
    assert {line["custom_id"] for line in full.output} == {f"req-{n}" for n in range(1, LINES + 1)} - failing
    assert {line["custom_id"] for line in full.errors} == failing
    assert len(full.output) == 970 and len(full.errors) == 30


def test_each_output_line_is_openais_with_the_models_answer_to_its_own_request(full: Run) -> None:
    for line in full.output:
        number = int(line["custom_id"].removeprefix("req-"))
        assert line["error"] is None
        assert line["id"] == f"batch_req_{line['response']['request_id']}"
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["choices"][0]["message"]["content"] == f"echo: Say {number}"


def test_each_failed_line_carries_the_models_500(full: Run) -> None:
    for line in full.errors:
        assert line["response"]["status_code"] == 500, line
        assert "Received server error (500)" in json.dumps(line["response"]["body"])


def test_every_line_is_invoked_exactly_once_and_the_endpoint_woken_once(full: Run) -> None:
    invoked = [inference_id for _, inference_id in full.invocations]
    assert len(invoked) == len(set(invoked)) == LINES
    assert len(full.wakes) == 1
    assert (full.completed, full.failed, full.dead_letters) == (970, 30, 0)


def test_the_map_keeps_at_most_max_concurrency_chunks_of_lines_in_the_endpoints_queue(
    full: Run, deployment: tuple[Deployment, dict[str, Any]]
) -> None:
    submit = deployment[0].definition["States"]["Submit"]
    limit = submit["MaxConcurrency"] * submit["ItemBatcher"]["MaxItemsPerBatch"]
    assert full.most_in_flight <= limit
    children = [state for _, kind, state in full.history if kind == "child-started"]
    assert len(children) == LINES // submit["ItemBatcher"]["MaxItemsPerBatch"]


def test_the_states_ran_in_the_designed_order(full: Run) -> None:
    top = [state for state in full.entered() if state in ("Validate", "IsValid", "Wake", "Submit", "Finalize", "Done", "MarkFailed")]
    assert top == ["Validate", "IsValid", "Wake", "Submit", "Finalize", "Done"]
    # Each chunk was checked after its wait until done: at least once a chunk.
    assert len(full.invoked("batch_jobs.steps.check_chunk")) >= LINES // 50


# --- a cancel mid-way ---

CANCEL_LINES = 400
CANCEL_AFTER_CHUNKS = 3
"""At least this many chunks submitted, and some of their lines finished, when the batch is cancelled."""


@pytest.fixture(scope="module")
def cancelled(harness: Any, scenarios_directory: Path) -> Run:
    def scenario() -> Run:
        with harness() as h:
            return _cancel_mid_way(h)

    return shared(scenarios_directory, "cancelled", scenario)


def _cancel_mid_way(h: Harness) -> Run:
    notes: dict[str, Any] = {}

    def cancel_after_some_chunks(state: str, data: Any) -> None:
        submitted = sum(1 for _ in invocations_of(h.driver.history, "batch_jobs.steps.submit_chunk"))
        # Once lines have finished, whatever the template's child concurrency let run meanwhile.
        if state == "SubmitChunk" and submitted >= CANCEL_AFTER_CHUNKS and h.endpoint.completed and "at" not in notes:
            status, body = h.call("POST", f"/batches/{data['BatchInput']['batch_id']}/cancel")
            assert (status, body["status"]) == (200, "cancelling"), body
            notes.update(at=h.clock.now, invoked=len(h.endpoint.invocations), completed=h.endpoint.completed, chunks=submitted)

    h.driver.before_state = cancel_after_some_chunks
    return h.run(jsonl(chat_lines(CANCEL_LINES)), notes=notes)


def test_a_cancelled_batch_ends_cancelled(cancelled: Run) -> None:
    assert cancelled.execution["status"] == "SUCCEEDED", cancelled.execution
    assert cancelled.batch["status"] == "cancelled"
    assert cancelled.batch["cancelling_at"] is not None and cancelled.batch["cancelled_at"] is not None


def test_submission_stops_at_the_cancel(cancelled: Run) -> None:
    assert cancelled.notes["invoked"] == cancelled.notes["chunks"] * 50 < CANCEL_LINES
    # Not one line invoked after the cancel: the chunks after it recorded their lines cancelled instead.
    assert [t for t, _ in cancelled.invocations if t > cancelled.notes["at"]] == []
    assert len(cancelled.invocations) == cancelled.notes["chunks"] * 50


def test_what_finished_is_reported_and_the_rest_as_cancelled(cancelled: Run) -> None:
    counts = cancelled.batch["request_counts"]
    assert counts["total"] == CANCEL_LINES and counts["completed"] + counts["failed"] == CANCEL_LINES
    finished = {line["custom_id"] for line in cancelled.output}
    assert len(finished) == counts["completed"] > 0
    # Every line finished by the endpoint before the cancel is in the output file (first writer wins: none lost).
    assert len(finished) >= cancelled.notes["completed"] - sum(1 for c in finished if int(c[4:]) % 100 in FAILING_LINES)
    never_run = {line["custom_id"] for line in cancelled.errors if line["error"] and line["error"]["code"] == "batch_cancelled"}
    assert {f"req-{n}" for n in range(cancelled.notes["chunks"] * 50 + 1, CANCEL_LINES + 1)} <= never_run
    assert finished.isdisjoint({line["custom_id"] for line in cancelled.errors})


# --- an expiry ---

EXPIRY_LINES = 200


@pytest.fixture(scope="module")
def expired(harness: Any, scenarios_directory: Path) -> Run:
    def scenario() -> Run:
        # A slow endpoint: 2 at a time, 2 minutes each, after a 5-minute cold start: a one-hour window holds ~55 lines.
        with harness(concurrency=2, service_s=120.0) as h:
            return h.run(jsonl(chat_lines(EXPIRY_LINES)), window="1h")

    return shared(scenarios_directory, "expired", scenario)


def test_a_batch_whose_window_passes_ends_expired(expired: Run) -> None:
    assert expired.execution["status"] == "SUCCEEDED", expired.execution
    assert expired.batch["status"] == "expired"
    assert expired.batch["expired_at"] - expired.batch["created_at"] >= 3600


def test_lines_done_in_the_window_are_in_the_output_and_the_rest_expired(expired: Run) -> None:
    counts = expired.batch["request_counts"]
    assert counts["total"] == EXPIRY_LINES and counts["completed"] + counts["failed"] == EXPIRY_LINES
    assert 0 < counts["completed"] < EXPIRY_LINES
    expired_lines = [line for line in expired.errors if line["error"] and line["error"]["code"] == "batch_expired"]
    assert len(expired.output) + len(expired_lines) + sum(1 for line in expired.errors if line["response"]) == EXPIRY_LINES
    assert {line["custom_id"] for line in expired.output}.isdisjoint(line["custom_id"] for line in expired_lines)
    assert len(expired_lines) > 0


def test_no_line_is_invoked_after_the_deadline(expired: Run) -> None:
    deadline = expired.batch["expires_at"]
    assert deadline - expired.batch["created_at"] == 3600
    assert [t for t, _ in expired.invocations if t >= deadline] == []


# --- a file of invalid lines ---


@pytest.fixture(scope="module")
def invalid(harness: Any, scenarios_directory: Path) -> Run:
    return shared(scenarios_directory, "invalid", lambda: _invalid_lines(harness))


def _invalid_lines(harness: Any) -> Run:
    lines: list[Any] = chat_lines(5)
    lines[1] = b'{"custom_id": "req-2", "method": "POST"'  # not JSON
    lines[2] = {**lines[2], "url": "/v1/completions"}  # not the batch's endpoint
    lines[3] = {**lines[3], "custom_id": "req-1"}  # a duplicate custom_id
    lines[4] = {**lines[4], "body": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}}
    with harness() as h:
        return h.run(jsonl(lines))


def test_a_file_of_invalid_lines_fails_naming_each_line(invalid: Run) -> None:
    assert invalid.execution["status"] == "SUCCEEDED", invalid.execution
    assert invalid.batch["status"] == "failed"
    assert sorted(error["line"] for error in invalid.batch["errors"]["data"]) == [2, 3, 4, 5]
    assert all(error["message"] for error in invalid.batch["errors"]["data"])
    assert invalid.output == [] and invalid.errors == []


def test_a_file_of_invalid_lines_invokes_nothing(invalid: Run) -> None:
    assert invalid.invocations == [] and invalid.wakes == []
    assert invalid.entered() == ["Validate", "IsValid", "Done"]


# --- throttling ---

THROTTLED_LINES = 120


@pytest.fixture(scope="module")
def throttled(harness: Any, scenarios_directory: Path) -> Run:
    def scenario() -> Run:
        with harness() as h:
            # SageMaker refuses the first chunk's third line and the two calls after it (the second chunk's or a retry's).
            calls = {"n": 0}
            original = h.endpoint.invoke_endpoint_async

            def throttle_some(**request: Any) -> dict[str, Any]:
                calls["n"] += 1
                if calls["n"] == 3:
                    h.endpoint.throttle_next = 3
                return original(**request)

            h.endpoint.invoke_endpoint_async = throttle_some  # type: ignore[method-assign]
            return h.run(jsonl(chat_lines(THROTTLED_LINES)))

    return shared(scenarios_directory, "throttled", scenario)


def test_a_throttled_submit_is_retried_by_its_state_with_backoff(throttled: Run) -> None:
    assert throttled.throttled == 3
    # SubmitChunk raised Throttled three times; the state's Throttled retrier (not Lambda's) ran it again each time.
    assert [(state, error) for state, error, _ in throttled.retries] == [("SubmitChunk", "Throttled")] * 3
    assert all(1 <= attempt <= 6 for _, _, attempt in throttled.retries)
    assert throttled.execution["status"] == "SUCCEEDED" and throttled.batch["status"] == "completed"


def test_a_retried_chunk_invokes_each_line_once(throttled: Run) -> None:
    invoked = [inference_id for _, inference_id in throttled.invocations]
    assert len(invoked) == len(set(invoked)) == THROTTLED_LINES
    assert throttled.batch["request_counts"] == {"total": THROTTLED_LINES, "completed": 116, "failed": 4}
    assert {line["custom_id"] for line in throttled.errors} == _failing(THROTTLED_LINES)
