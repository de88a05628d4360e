"""Cold start: the template's weights metadata and engine, the breakdown's arithmetic, and the CLI's overrides."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import llm_async_tools.simulate as cli
from llm_async.api.runtime.inference_api.contract import VARIABLES
from llm_async.model.engines import ENGINES
from llm_async.model.staged import WEIGHTS_METADATA
from llm_async_tools.cfn_template import TemplateError
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import (
    DEFAULT_WEIGHTS_BYTES,
    DEFAULT_WEIGHTS_SOURCE,
    ENGINE_START_S,
    SimulationParameters,
)
from llm_async_tools.simulation.template import read_scaling_model
from tests.synths import Synthesized
from tests.tools.simulation.conftest import SERVICE_S, run

QWEN_7B_BYTES = 15_231_233_024
# Round numbers so that every component is exact: 2.5e9 bytes at 2 Gbps = 10 s, at 1 Gbps = 20 s.
EXACT_COLD = SimulationParameters(
    instance_provisioning_s=100.0, weights_bytes=2_500_000_000, s3_gbps=1.0, hub_gbps=2.0, engine_start_s=30.0,
    provisioning_jitter=0, service_s=SERVICE_S,
)


def _model_resource(template: dict[str, Any]) -> dict[str, Any]:
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    return model


def _with_weights(template: dict[str, Any], weights: object) -> dict[str, Any]:
    """The template with the model's weights metadata set to `weights`, or removed if it is None."""
    changed = copy.deepcopy(template)
    metadata = _model_resource(changed).setdefault("Metadata", {})
    metadata.pop(WEIGHTS_METADATA, None)
    if weights is not None:
        metadata[WEIGHTS_METADATA] = weights
    return changed


def _with_engine(template: dict[str, Any], engine: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if resource["Type"] == "AWS::Lambda::Function" and VARIABLES["engine"] in variables:
            variables[VARIABLES["engine"]] = engine
    return changed


@pytest.fixture
def s3_template(sandbox: Synthesized) -> dict[str, Any]:
    return _with_engine(_with_weights(sandbox.template_json, {"Source": "s3", "Bytes": QWEN_7B_BYTES}), "tgi")


# --- the template ---------------------------------------------------------------------------------------------


def test_staged_weights_metadata_is_read(s3_template: dict[str, Any]) -> None:
    model = read_scaling_model(s3_template)
    assert (model.weights_source, model.weights_bytes, model.engine) == ("s3", QWEN_7B_BYTES, "tgi")


def test_hub_weights_without_a_size_are_read_as_hub_of_unknown_size(sandbox: Synthesized) -> None:
    model = read_scaling_model(_with_weights(sandbox.template_json, {"Source": "hub", "Bytes": None}))
    assert (model.weights_source, model.weights_bytes) == ("hub", None)


def test_a_template_without_the_metadata_falls_back_to_the_documented_defaults(sandbox: Synthesized) -> None:
    model = read_scaling_model(_with_weights(sandbox.template_json, None))
    assert (model.weights_source, model.weights_bytes) == (None, None)
    cold = SimulationParameters().cold_start(model)
    assert (cold.weights_source, cold.weights_bytes) == (DEFAULT_WEIGHTS_SOURCE, DEFAULT_WEIGHTS_BYTES)
    assert cold.defaults == ("weights source", "weights size")


def test_the_metadata_of_the_model_the_endpoint_serves_is_read(s3_template: dict[str, Any]) -> None:
    template = copy.deepcopy(s3_template)
    # A second model the endpoint config does not reference, with other metadata: it must not be read.
    template["Resources"]["OtherModel"] = {"Type": "AWS::SageMaker::Model", "Metadata": {WEIGHTS_METADATA: {"Source": "hub", "Bytes": 1}}}
    assert read_scaling_model(template).weights_source == "s3"


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_the_engine_is_the_apis(sandbox: Synthesized, engine: str) -> None:
    assert read_scaling_model(_with_engine(sandbox.template_json, engine)).engine == engine


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"Source": "ftp", "Bytes": 1}, "has Source 'ftp', expected one of s3, hub"),
        ({"Bytes": 1}, "has Source None, expected one of s3, hub"),
        ({"Source": "s3", "Bytes": "15 GB"}, "has Bytes '15 GB', expected a whole number of bytes > 0 or null"),
        ({"Source": "s3", "Bytes": 0}, "has Bytes 0, expected a whole number of bytes > 0 or null"),
        ({"Source": "s3", "Bytes": True}, "has Bytes True, expected a whole number of bytes > 0 or null"),
        ({"Source": "s3", "Bytes": 1.5e10}, "has Bytes 15000000000.0, expected a whole number of bytes > 0 or null"),
        ("s3", "is not an object"),
    ],
)
def test_bad_weights_metadata_is_named(sandbox: Synthesized, weights: object, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        read_scaling_model(_with_weights(sandbox.template_json, weights))
    assert str(error.value).startswith("AWS::SageMaker::Model ") and str(error.value).endswith(f"metadata {WEIGHTS_METADATA} {message}")


def test_an_unknown_engine_is_refused(sandbox: Synthesized) -> None:
    with pytest.raises(TemplateError, match=r"^the API's ENGINE is 'trtllm'; the simulator knows the start time of tgi, vllm$"):
        read_scaling_model(_with_engine(sandbox.template_json, "trtllm"))


def test_every_engine_the_app_deploys_has_a_start_time() -> None:
    assert set(ENGINE_START_S) == set(ENGINES)


# --- the breakdown --------------------------------------------------------------------------------------------


def _model(ours: ScalingModel, source: str | None, engine: str = "tgi") -> ScalingModel:
    return dataclasses.replace(ours, weights_source=source, weights_bytes=None, engine=engine)


def test_hub_weights_download_after_the_image_pull(ours: ScalingModel) -> None:
    cold = dataclasses.replace(EXACT_COLD, image_pull_s=40.0).cold_start(_model(ours, "hub"))
    assert (cold.weight_load_s, cold.total_s) == (10.0, 100.0 + 40.0 + 10.0 + 30.0)


@pytest.mark.parametrize(("pull_s", "total_s"), [(0.0, 100.0 + 20.0 + 30.0), (5.0, 100.0 + 20.0 + 30.0), (50.0, 100.0 + 50.0 + 30.0)])
def test_staged_weights_download_beside_the_image_pull(ours: ScalingModel, pull_s: float, total_s: float) -> None:
    cold = dataclasses.replace(EXACT_COLD, image_pull_s=pull_s).cold_start(_model(ours, "s3"))
    assert (cold.weight_load_s, cold.total_s) == (20.0, total_s)


def test_the_weights_size_sets_the_load_time(ours: ScalingModel) -> None:
    # The default 7B model from the Hub at the default 2.1 Gbps: 15,231,233,024 × 8 / 2.1e9 s.
    cold = SimulationParameters().cold_start(dataclasses.replace(ours, weights_source="hub", weights_bytes=QWEN_7B_BYTES))
    assert cold.weight_load_s == pytest.approx(58.02, abs=0.01)
    assert cold.defaults == ()


@pytest.mark.parametrize("engine", sorted(ENGINE_START_S))
def test_the_engine_sets_the_engine_start(ours: ScalingModel, engine: str) -> None:
    cold = dataclasses.replace(EXACT_COLD, engine_start_s=None).cold_start(_model(ours, "hub", engine))
    assert (cold.engine_start_s, cold.total_s) == (ENGINE_START_S[engine], 100.0 + 10.0 + ENGINE_START_S[engine])


def test_parameters_override_the_template(ours: ScalingModel) -> None:
    model = dataclasses.replace(ours, weights_source="hub", weights_bytes=10**12)
    cold = dataclasses.replace(EXACT_COLD, weights_source="s3").cold_start(model)
    assert (cold.weights_source, cold.weights_bytes, cold.total_s) == ("s3", 2_500_000_000, 100.0 + 20.0 + 30.0)


def test_provisioning_seconds_replaces_the_whole_breakdown(ours: ScalingModel) -> None:
    cold = dataclasses.replace(EXACT_COLD, provisioning_s=420.0).cold_start(_model(ours, "s3"))
    assert (cold.total_s, cold.overridden, cold.weight_load_s) == (420.0, True, 20.0)


def test_the_first_result_waits_for_the_cold_start(ours: ScalingModel) -> None:
    model = _model(ours, "s3")
    # The API wakes the endpoint at the arrival; the instance serves after exactly the cold start (no jitter).
    assert run(model, [3605.0], EXACT_COLD).first_ttr_s == 100.0 + 20.0 + 30.0 + SERVICE_S
    assert run(_model(ours, "hub"), [3605.0], EXACT_COLD).first_ttr_s == 100.0 + 10.0 + 30.0 + SERVICE_S


# --- the CLI --------------------------------------------------------------------------------------------------


def _write(tmp_path: Path, template: dict[str, Any]) -> str:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return str(path)


def _trace(tmp_path: Path) -> str:
    path = tmp_path / "trace.csv"
    path.write_text("arrival_s,service_s\n3605,20\n")
    return str(path)


def _cli_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert cli.main([*argv, "--json", "--provisioning-jitter", "0"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_states_the_breakdown_from_the_template(s3_template: dict[str, Any], tmp_path: Path, capsys) -> None:
    output = _cli_json(capsys, ["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path)])
    load_s = QWEN_7B_BYTES * 8 / 1.7e9
    assert output["cold_start"] == {
        "instance_provisioning_s": 120.0, "image_pull_s": 0.0, "weights_source": "s3", "weights_bytes": QWEN_7B_BYTES,
        "weights_gbps": 1.7, "weight_load_s": round(load_s, 1), "engine": "tgi", "engine_start_s": 56.0,
        "total_s": round(120.0 + load_s + 56.0, 1), "jitter": 0.0, "total_from_provisioning_seconds": False, "defaults": [],
    }
    assert output["policies"][0]["first_result_s"] == round(120.0 + load_s + 56.0 + 20.0, 1)


def test_cli_options_override_the_template(s3_template: dict[str, Any], tmp_path: Path, capsys) -> None:
    argv = ["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path), "--weights-source", "hub",
            "--weights-bytes", "4000000000", "--hub-gbps", "4", "--instance-provisioning-seconds", "90",
            "--image-pull-seconds", "12", "--engine-start-seconds", "25"]
    cold = _cli_json(capsys, argv)["cold_start"]
    assert (cold["weights_source"], cold["weights_bytes"], cold["weight_load_s"]) == ("hub", 4_000_000_000, 8.0)
    assert (cold["engine_start_s"], cold["total_s"]) == (25.0, 90.0 + 12.0 + 8.0 + 25.0)


def test_s3_gbps_sets_the_staged_load(s3_template: dict[str, Any], tmp_path: Path, capsys) -> None:
    argv = ["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path), "--weights-bytes", "5000000000", "--s3-gbps", "8"]
    assert _cli_json(capsys, argv)["cold_start"]["weight_load_s"] == 5.0


def test_provisioning_seconds_takes_precedence_over_every_component(s3_template: dict[str, Any], tmp_path: Path, capsys) -> None:
    argv = ["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path), "--provisioning-seconds", "420",
            "--weights-bytes", "4000000000", "--engine-start-seconds", "25"]
    output = _cli_json(capsys, argv)
    assert (output["cold_start"]["total_s"], output["cold_start"]["total_from_provisioning_seconds"]) == (420.0, True)
    assert output["policies"][0]["first_result_s"] == 440.0


def _cold_start_line(table: str) -> str:
    """The line under the table that states the cold start (the batching and bound lines follow it)."""
    (line,) = [line for line in table.splitlines() if line.startswith("cold start:")]
    return line


def test_the_table_says_when_the_weights_are_defaults(sandbox: Synthesized, tmp_path: Path, capsys) -> None:
    template = _with_engine(_with_weights(sandbox.template_json, None), "vllm")
    assert cli.main(["--template", _write(tmp_path, template), "--trace", _trace(tmp_path)]) == 0
    assert _cold_start_line(capsys.readouterr().out) == (
        f"cold start: 239 s mean, jitter 15% = 120 s instance provisioning + 58 s weight load (hub, 15.23 GB at 2.1 Gbps)"
        f" + 61 s engine start (vllm); weights source and weights size: documented defaults, not in the template"
        f" ({WEIGHTS_METADATA} metadata)"
    )


def test_the_table_names_no_default_when_the_template_gives_the_weights(s3_template: dict[str, Any], tmp_path: Path, capsys) -> None:
    argv = ["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path), "--image-pull-seconds", "247"]
    assert cli.main(argv) == 0
    assert _cold_start_line(capsys.readouterr().out) == (
        "cold start: 423 s mean, jitter 15% = 120 s instance provisioning + 247 s image pull + 72 s weight load"
        " (s3, 15.23 GB at 1.7 Gbps, beside the pull) + 56 s engine start (tgi)"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--weights-bytes", "0", "weights-bytes must be > 0 (got 0)"),
        ("--weights-bytes", "15.2e9", "argument --weights-bytes: invalid int value: '15.2e9' (see --help)"),
        ("--s3-gbps", "0", "s3-gbps must be > 0 (got 0.0)"),
        ("--hub-gbps", "-1", "hub-gbps must be > 0 (got -1.0)"),
        ("--engine-start-seconds", "0", "engine-start-seconds must be > 0 (got 0.0)"),
        ("--instance-provisioning-seconds", "0", "instance-provisioning-seconds must be > 0 (got 0.0)"),
        ("--image-pull-seconds", "-1", "image-pull-seconds must be ≥ 0 (got -1.0)"),
    ],
)
def test_bad_cold_start_options_are_one_line_and_exit_2(s3_template: dict[str, Any], tmp_path: Path, capsys, option: str, value: str,
                                                        message: str) -> None:
    assert cli.main(["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path), f"{option}={value}"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"llm-async simulate: {message}\n")


def test_an_unknown_weights_source_is_one_line_and_exit_2(s3_template: dict[str, Any], tmp_path: Path, capsys) -> None:
    assert cli.main(["--template", _write(tmp_path, s3_template), "--trace", _trace(tmp_path), "--weights-source", "ftp"]) == 2
    err = capsys.readouterr().err
    # argparse quotes the choices or not depending on the Python version; the line and its ends are ours.
    assert err.startswith("llm-async simulate: argument --weights-source: invalid choice: 'ftp' (choose from ")
    assert err.endswith(" (see --help)\n") and "hub" in err and err.count("\n") == 1


def test_bad_weights_metadata_is_one_line_and_exit_2(sandbox: Synthesized, tmp_path: Path, capsys) -> None:
    template = _with_weights(sandbox.template_json, {"Source": "s3", "Bytes": -1})
    assert cli.main(["--template", _write(tmp_path, template), "--trace", _trace(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llm-async simulate: AWS::SageMaker::Model ") and err.endswith(" has Bytes -1, expected a whole number of bytes > 0 or null\n")
    assert err.count("\n") == 1
