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
