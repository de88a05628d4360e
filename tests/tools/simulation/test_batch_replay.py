"""A batch job replayed as a closed loop (llm_async_tools.simulation.batch): bounded chunks in flight, checks every
poll, one wake, and the figures the CLI prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llm_async_tools.simulate as cli
from llm_async.batch.config import BatchConfig
from llm_async_tools.cfn_template import read_map_settings
from llm_async_tools.simulation.batch import BatchResult, BatchShape, batch_shape, replay_batch
from llm_async_tools.simulation.batching import instance_capacity
from llm_async_tools.simulation.model import ScalingModel
from tests.synths import Synthesized
from tests.tools.simulation.conftest import EXACT, MONDAY

LINES, CHUNK, CONCURRENCY, POLL_S = 400, 20, 3, 30.0


@pytest.fixture(scope="module")
def replayed(ours: ScalingModel) -> BatchResult:
    shape = BatchShape(LINES, CHUNK, CONCURRENCY, POLL_S, 600, 300, "test")
    return replay_batch(ours, shape, EXACT, start=MONDAY)


def test_the_endpoint_never_holds_more_than_the_chunks_in_flight(replayed: BatchResult) -> None:
    # backlog_per_minute is each minute's largest backlog over every instant of it.
    assert max(replayed.simulation.backlog_per_minute) <= CONCURRENCY * CHUNK
    assert replayed.peak_in_flight == replayed.peak_backlog == CONCURRENCY * CHUNK


def test_every_line_finishes_and_none_expires(replayed: BatchResult) -> None:
    assert (replayed.completed, replayed.expired, replayed.unfinished) == (LINES, 0, 0)


def test_a_chunk_is_seen_done_at_a_check_and_the_next_starts_then(replayed: BatchResult) -> None:
    submitted, seen = replayed.chunk_submissions, replayed.chunk_seen_done
    for start, done in zip(submitted, seen, strict=True):
        checks = (done - start) / POLL_S
        assert checks >= 1 and checks == pytest.approx(round(checks))
    assert submitted[:CONCURRENCY] == (0.0,) * CONCURRENCY
    assert all(start in seen[:index] for index, start in enumerate(submitted) if index >= CONCURRENCY)


def test_the_batch_wakes_the_idle_endpoint_once(replayed: BatchResult) -> None:
    assert replayed.wakes == 1


def test_makespan_is_at_least_the_work_at_the_rooflines_best(ours: ScalingModel, replayed: BatchResult) -> None:
    batching = EXACT.batching(ours)
    best = instance_capacity(batching, ours.concurrency_per_instance, 600, 300).largest_batch_tokens_per_second
    assert replayed.makespan_s is not None
    assert replayed.makespan_s >= LINES * 300 / (ours.max_capacity * best)


def test_defaults_without_a_state_machine_are_batch_configs(ours: ScalingModel, sandbox: Synthesized) -> None:
    # The sandbox without its batch jobs (a configuration with batch.enabled off, or an older template).
    resources = {k: v for k, v in sandbox.template_json["Resources"].items() if v["Type"] != "AWS::StepFunctions::StateMachine"}
    shape = batch_shape({**sandbox.template_json, "Resources": resources}, ours, lines=10, prompt_tokens=600, output_tokens=300)
    running = ours.max_capacity * ours.concurrency_per_instance
    assert (shape.chunk_lines, shape.max_concurrency) == (BatchConfig().chunk_lines, max(2, -(-2 * running // 50)))
    assert shape.source.startswith("BatchConfig defaults")


def test_the_template_state_machines_map_decides() -> None:
    definition = {"States": {"Submit": {
        "Type": "Map", "MaxConcurrency": 7, "ItemBatcher": {"MaxItemsPerBatch": 25},
        "ItemProcessor": {"States": {"SubmitChunk": {"Type": "Task"}, "WaitForChunk": {"Type": "Wait", "Seconds": 45}}},
    }}}
    template = {"Resources": {"M": {"Type": "AWS::StepFunctions::StateMachine",
                                    "Properties": {"DefinitionString": json.dumps(definition)}}}}
    settings = read_map_settings(template)
    assert settings is not None and (settings.chunk_lines, settings.max_concurrency, settings.poll_s) == (25, 7, 45)


def test_cli_json_fields(sandbox: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "LlmAsyncStack.template.json"
    template.write_text(json.dumps(sandbox.template_json))
    argv = ["--template", str(template), "--batch", "200", "--batch-chunk", "20", "--batch-concurrency", "2",
            "--batch-prompt-tokens", "600", "--batch-tokens", "300", "--json"]
    assert cli.main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["batch", "cold_start", "capacity"]
    assert list(document["batch"]) == [
        "lines", "chunk_lines", "max_concurrency", "in_flight_bound", "poll_s", "prompt_tokens", "output_tokens", "source",
        "gpu_hours", "cost_usd", "makespan_s", "lines_per_s", "completed", "expired", "unfinished", "peak_backlog",
        "peak_in_flight", "wakes", "scale_events", "peak_instances", "end_s",
    ]
    batch = document["batch"]
    assert (batch["lines"], batch["chunk_lines"], batch["max_concurrency"], batch["in_flight_bound"]) == (200, 20, 2, 40)
    assert batch["completed"] == 200 and batch["expired"] == 0


def test_cli_refuses_a_batch_with_a_trace_mode(sandbox: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "LlmAsyncStack.template.json"
    template.write_text(json.dumps(sandbox.template_json))
    assert cli.main(["--template", str(template), "--batch", "10", "--sweep"]) == 2
    assert capsys.readouterr().err.strip() == "llm-async simulate: --sweep does not apply to --batch"


def test_the_sandbox_templates_state_machine_decides(ours: ScalingModel, sandbox: Synthesized) -> None:
    shape = batch_shape(sandbox.template_json, ours, lines=10, prompt_tokens=600, output_tokens=300)
    assert (shape.source, shape.chunk_lines, shape.max_concurrency, shape.poll_s) == ("template", 50, 4, 39.0)
