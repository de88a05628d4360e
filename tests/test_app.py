"""app.py's entry point in-process (a bad choice is one readable line and exit 1), and the synth summary."""

from __future__ import annotations

import aws_cdk as cdk

import app
from llm_async.endpoint.config import ScalingConfig
from llm_async.environments import ENVIRONMENTS
from tests.synths import cdk_json_context


def cli_error_line(capsys, tmp_path, context: dict | None = None) -> str:
    """`app.cli()` in this process (a new one costs seconds of jsii start-up): exit 1 and one stderr line."""
    cdk_app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=str(tmp_path))
    assert app.cli(cdk_app) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def test_invalid_configuration_is_one_line(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setitem(ENVIRONMENTS, "sandbox", lambda: ScalingConfig(min_capacity=2, max_capacity=1))
    assert cli_error_line(capsys, tmp_path) == (
        "llm-async configuration error: scaling.min_capacity: must be 0–scaling.max_capacity (1) (got 2)"
    )


def test_an_unknown_preset_is_one_line(capsys, tmp_path) -> None:
    assert cli_error_line(capsys, tmp_path, {"preset": "llama-9000"}) == (
        "llm-async configuration error: preset: must be one of qwen2-5-7b-instruct, qwen2-5-7b-instruct-vllm,"
        " llama-3-1-8b-instruct, falcon-40b-instruct, falcon-40b-instruct-int8 (got 'llama-9000')"
    )


def test_a_preset_chosen_with_context_reaches_the_stack(monkeypatch, tmp_path) -> None:
    built = []
    monkeypatch.setattr(app, "add_llm_async_stack", lambda scope, config: built.append(config))
    cdk_app = cdk.App(context={**cdk_json_context(), "env": "dev", "preset": "falcon-40b-instruct-int8"}, outdir=str(tmp_path))
    assert app.cli(cdk_app) == 0
    (config,) = built
    assert (config.env_name, config.model.name, config.endpoint.endpoint_name) == (
        "dev", "falcon-40b-instruct-int8", "llm-async-dev-g4dn-12xlarge"
    )


def test_an_unknown_engine_is_one_line(capsys, tmp_path) -> None:
    assert cli_error_line(capsys, tmp_path, {"engine": "sglang"}) == (
        "llm-async configuration error: engine: must be one of tgi, vllm (got 'sglang')"
    )


def test_an_engine_chosen_with_context_reaches_the_stack(monkeypatch, tmp_path) -> None:
    built = []
    monkeypatch.setattr(app, "add_llm_async_stack", lambda scope, config: built.append(config))
    cdk_app = cdk.App(context={**cdk_json_context(), "engine": "vllm"}, outdir=str(tmp_path))
    assert app.cli(cdk_app) == 0
    (config,) = built
    assert (config.env_name, config.model.engine, config.model.image_version) == ("sandbox", "vllm", "0.30.0")


def test_an_engine_the_model_cannot_run_on_is_one_line(capsys, tmp_path) -> None:
    # The int8 Falcon preset quantizes with bitsandbytes, which vLLM 0.30 does not have.
    assert cli_error_line(capsys, tmp_path, {"preset": "falcon-40b-instruct-int8", "engine": "vllm"}) == (
        "llm-async configuration error: model.quantize: must be None or one of awq, awq_marlin, compressed-tensors,"
        " fp8, gptq, gptq_marlin (vLLM) (got 'bitsandbytes')"
    )
