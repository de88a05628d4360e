"""python -m llm_async_tools.simulate: its JSON shape, the table, the plot, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import llm_async_tools.simulate as cli
from stacks import llm_async_app
from tests.conftest import ROOT
from tests.synths import Synthesized

KEYS = ["name", "gpu_hours", "cost_usd", "ttr_p50_s", "ttr_p95_s", "ttr_max_s", "expired", "scale_events", "first_result_s"]


@pytest.fixture
def template(sandbox: Synthesized, tmp_path: Path) -> Path:
    path = tmp_path / "LlmAsyncStack.template.json"
    path.write_text(json.dumps(sandbox.template_json))
    return path


def _trace(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_compare_json_lists_ours_first_then_the_anchors(template: Path, tmp_path: Path, capsys) -> None:
    trace = _trace(tmp_path, "arrival_s,service_s\n100,30\n7200,\n")
    output = _json(capsys, ["--template", str(template), "--trace", str(trace), "--compare", "--json"])
    assert list(output) == ["policies", "cold_start", "capacity", "offline_bound"]
    assert [p["name"] for p in output["policies"]] == ["ours", "seed-option-1", "seed-option-2", "aws-documented", "always-on"]
    assert all(list(p) == KEYS for p in output["policies"])
    assert output["policies"][4]["gpu_hours"] == 24.0


def test_unsorted_trace_is_sorted(template: Path, tmp_path: Path, capsys) -> None:
    unsorted = _json(capsys, ["--template", str(template), "--trace", str(_trace(tmp_path, "arrival_s\n7200\n100\n")), "--json"])
    ordered = _json(capsys, ["--template", str(template), "--trace", str(_trace(tmp_path, "arrival_s\n100\n7200\n")), "--json"])
    assert unsorted == ordered


def test_table_and_plot(template: Path, tmp_path: Path, capsys) -> None:
    plot = tmp_path / "timeline.png"
    trace = str(_trace(tmp_path, "arrival_s,tokens\n100,600\n"))
    argv = ["--template", str(template), "--trace", trace, "--compare", "--duration-seconds", "7200", "--plot", str(plot)]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["policy", "GPU", "h"] and "cost vs ours" in lines[0]
    assert lines[1].startswith("ours") and lines[1].endswith("1.00×        1.00×")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stage_synthesizes_through_the_app(template: Path, sandbox: Synthesized, tmp_path: Path, capsys, monkeypatch) -> None:
    stages = []
    monkeypatch.setattr(llm_async_app, "synthesize_template", lambda config, outdir: stages.append(config.env_name) or sandbox.template_json)
    trace = str(_trace(tmp_path, "arrival_s\n100\n"))
    assert _json(capsys, ["--stage", "sandbox", "--trace", trace, "--json"]) == _json(capsys, ["--template", str(template), "--trace", trace, "--json"])
    assert stages == ["sandbox"]


@pytest.mark.parametrize(
    ("trace_text", "extra", "message"),
    [
        ("when\n10\n", [], "{trace}: no arrival_s column in the header (found: when)"),
        ("arrival_s\n-5\n", [], "{trace}, line 2: arrival_s must be a number ≥ 0 (got '-5')"),
        ("arrival_s,service_s\n5,soon\n", [], "{trace}, line 2: service_s must be a number (got 'soon')"),
        ("arrival_s\n", [], "{trace}: the trace has no requests"),
        ("arrival_s\n5\n", ["--stage", "qa"], "unknown stage 'qa': must be one of sandbox, dev, staging, prod"),
        ("arrival_s\n5\n", ["--provisioning-seconds", "0"], "provisioning-seconds must be > 0 (got 0.0)"),
        ("arrival_s\n5\n", ["--start", "Monday"], "--start must be an ISO 8601 date and time, like 2026-01-05T00:00 (got 'Monday')"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(template: Path, tmp_path: Path, capsys, trace_text: str, extra: list[str], message: str) -> None:
    trace = _trace(tmp_path, trace_text)
    source = [] if "--stage" in extra else ["--template", str(template)]
    assert cli.main([*source, "--trace", str(trace), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"llm-async simulate: {message.format(trace=trace)}\n"


def test_template_without_a_scalable_target_is_named(sandbox: Synthesized, tmp_path: Path, capsys) -> None:
    template = {"Resources": {k: r for k, r in sandbox.template_json["Resources"].items()
                              if r["Type"] != "AWS::ApplicationAutoScaling::ScalableTarget"}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    assert cli.main(["--template", str(path), "--trace", str(_trace(tmp_path, "arrival_s\n5\n"))]) == 2
    assert capsys.readouterr().err == (
        "llm-async simulate: template has 0 AWS::ApplicationAutoScaling::ScalableTarget resources, expected exactly one\n"
    )


def test_as_a_module_a_missing_argument_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llm_async_tools.simulate", "--template", str(tmp_path / "missing.json")],
        cwd=ROOT, env={**os.environ}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "llm-async simulate: one of the arguments --trace --batch is required (see --help)\n"


CAPACITY_KEYS = [
    "max_concurrent_sequences", "tokens_per_second_per_instance", "concurrency_per_instance", "roofline_tokens_per_second",
    "largest_batch", "largest_batch_tokens_per_second", "prompt_tokens", "output_tokens", "kv_cache_tokens", "engine_limit",
    "bandwidth_efficiency", "compute_efficiency", "defaults",
]


def test_json_states_the_instances_capacity_and_the_offline_bound(template: Path, tmp_path: Path, capsys) -> None:
    trace = _trace(tmp_path, "arrival_s,tokens,prompt_tokens\n100,600,200\n110,800,400\n")  # overlapping: one busy period
    output = _json(capsys, ["--template", str(template), "--trace", str(trace), "--json", "--provisioning-jitter", "0"])
    capacity = output["capacity"]
    assert list(capacity) == CAPACITY_KEYS
    # The template's model and instance: Qwen2.5-7B on TGI on one A10G, 84 requests of a typical 1,155-token prompt
    # and the default budget of 512.
    assert (capacity["max_concurrent_sequences"], capacity["concurrency_per_instance"], capacity["engine_limit"]) == (84, 84, 128)
    assert (capacity["prompt_tokens"], capacity["output_tokens"], capacity["defaults"]) == (300.0, 700.0, [])
    assert 0 < capacity["tokens_per_second_per_instance"] <= capacity["roofline_tokens_per_second"]
    bound = output["offline_bound"]
    assert list(bound) == ["gpu_hours", "single_instance_gpu_hours", "work_gpu_hours", "busy_periods", "largest_batch", "ours_ratio"]
    ours = output["policies"][0]["gpu_hours"]
    assert bound["busy_periods"] == 1 and 0 < bound["gpu_hours"] <= ours
    assert bound["ours_ratio"] == pytest.approx(ours / bound["gpu_hours"], rel=0.02)  # both rounded to 3 places


def test_a_template_without_capacity_metadata_batches_with_the_default_presets_figures(sandbox: Synthesized, tmp_path: Path,
                                                                                       capsys) -> None:
    template = json.loads(json.dumps(sandbox.template_json))
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("LlmAsync::Capacity", None)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    output = _json(capsys, ["--template", str(path), "--trace", str(_trace(tmp_path, "arrival_s\n100\n")), "--json"])
    assert output["capacity"]["defaults"] == [
        "GPUs", "KV bytes per token", "KV cache size", "engine limit", "max input tokens", "typical prompt tokens",
    ]
    assert output["capacity"]["max_concurrent_sequences"] == 84
