"""The tools run without the CDK: each module imports in an interpreter where aws_cdk, jsii and constructs cannot be
imported, and only the simulator's --stage adapter reaches for the app, when it synthesizes."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from typing import Any

import pytest

import llm_async_tools.simulation
from tests.conftest import ROOT

TOOLS = [
    "llm_async_tools.client",
    "llm_async_tools.smoke_test",
    "llm_async_tools.summary",
    "llm_async_tools.security_report",
    "llm_async_tools.cfn_template",
    "llm_async_tools.simulate",
    "llm_async_tools.openapi",
    "llm_async_tools.weights",
    "llm_async_tools.weights.cli",  # imports every other module of the package (all but __main__, which runs it)
]
SIMULATION = [
    f"llm_async_tools.simulation.{module.name}"
    for module in pkgutil.iter_modules(llm_async_tools.simulation.__path__)
    if module.name != "stage"
]

# Run in a fresh interpreter: a finder ahead of every other refuses the CDK's packages, then each module is
# imported in turn and its outcome reported, as JSON on the last line of stdout.
_PROBE = """
import importlib, json, sys

BLOCKED = {"aws_cdk", "jsii", "constructs"}


class RefuseTheCdk:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available to the tools")
        return None


sys.meta_path.insert(0, RefuseTheCdk())
outcome = {}
for name in [*json.loads(sys.argv[1]), "aws_cdk"]:
    try:
        importlib.import_module(name)
        outcome[name] = "ok"
    except Exception as error:
        outcome[name] = f"{type(error).__name__}: {error}"
stage = importlib.import_module("llm_async_tools.simulation.stage")
outcome["stage imported"] = "ok"
for name in ("qa", "sandbox"):
    try:
        stage.synthesize_stage(name)
        outcome[f"synthesize_stage({name})"] = "ok"
    except Exception as error:
        outcome[f"synthesize_stage({name})"] = f"{type(error).__name__}: {error}"
outcome["cdk loaded"] = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
print(json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def outcome() -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps([*TOOLS, *SIMULATION])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_the_probe_really_refuses_the_cdk(outcome: dict[str, Any]) -> None:
    assert outcome["aws_cdk"] == "ImportError: aws_cdk is not available to the tools"


def test_every_simulation_module_but_the_stage_adapter_is_probed() -> None:
    # A new module of the simulator is probed without being listed here.
    assert {"llm_async_tools.simulation.engine", "llm_async_tools.simulation.template"} <= set(SIMULATION)
    assert "llm_async_tools.simulation.stage" not in SIMULATION


@pytest.mark.parametrize("module", [*TOOLS, *SIMULATION])
def test_the_tool_imports_without_the_cdk(outcome: dict[str, Any], module: str) -> None:
    assert outcome[module] == "ok"


def test_no_tool_imported_any_of_the_cdk(outcome: dict[str, Any]) -> None:
    assert outcome["cdk loaded"] == []


def test_only_the_stage_adapter_needs_the_app_and_only_to_synthesize(outcome: dict[str, Any]) -> None:
    # Importing it, and refusing an unknown stage, need no CDK; synthesizing one imports the app, and so the CDK.
    assert outcome["stage imported"] == "ok"
    assert (
        outcome["synthesize_stage(qa)"]
        == "UnknownStage: unknown stage 'qa': must be one of sandbox, dev, staging, prod"
    )
    assert outcome["synthesize_stage(sandbox)"] == "ImportError: aws_cdk is not available to the tools"


# The pipeline's smoke test runs in a venv of boto3 alone (stacks/pipeline_stack.py, _smoke_test): everything but
# boto3 and the standard library is refused here, as there.
_BOTO3_ONLY_PROBE = """
import importlib, sys

ALLOWED_THIRD_PARTY = {"boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six"}


class OnlyBoto3:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in ("llm_async_tools",) or top in ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names:
            return None
        raise ImportError(f"{name} is not in the smoke test's venv")


sys.meta_path.insert(0, OnlyBoto3())
importlib.import_module("llm_async_tools.smoke_test")
print("ok")
"""


def test_the_smoke_test_imports_with_boto3_alone() -> None:
    run = subprocess.run([sys.executable, "-c", _BOTO3_ONLY_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout.strip()) == (0, "ok"), run.stderr
