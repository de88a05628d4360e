"""Synthesizes each configuration once per test session (jsii synthesis takes seconds) and shares it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from llm_async.config import (
    DeploymentConfig,
    ExistingVpc,
    MonitoringConfig,
    NewVpc,
    OpsSubscription,
    ResultSubscription,
    S3Weights,
)
from llm_async.environments import ENVIRONMENTS
from llm_async.pipeline_config import CONTEXT_KEY, PIPELINE_STACK_ID, PipelineConfig
from stacks.llm_async_app import cdk_json_context as cdk_json_context  # re-exported for tests
from stacks.llm_async_app import register_rule_packs, synthesize_template
from stacks.pipeline_stack import add_pipeline_stack

ROOT = Path(__file__).resolve().parent.parent
# `lambda` is a Python keyword: the handler package is imported from inside that folder, as Lambda does.
sys.path.insert(0, str(ROOT / "lambda"))


@dataclasses.dataclass(frozen=True)
class Synthesized:
    config: DeploymentConfig
    template_json: dict[str, Any]
    assembly_dir: Path | None = None
    """The cloud assembly of a standalone synth (template + metadata), for tools that read cdk.out."""

    @property
    def template(self) -> Template:
        return Template.from_json(self.template_json)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == resource_type}

    def only(self, resource_type: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
        """The one resource of that type (whose logical id starts with `prefix`)."""
        (item,) = [(k, v) for k, v in self.resources(resource_type).items() if k.startswith(prefix)]
        return item


def synthesize(config: DeploymentConfig, outdir: Path, *, rule_packs: bool = True) -> Synthesized:
    return Synthesized(config, synthesize_template(config, outdir, rule_packs=rule_packs), outdir)


# An organisation's pipeline settings (cdk.json context `llm-async:pipeline`): documentation account ids.
EXAMPLE_PIPELINE = {
    "connectionArn": "arn:aws:codeconnections:us-east-1:111111111111:connection/0f3c4d52-6a4e-4b8e-9d6b-2f1e8c7a9b10",
    "repository": "example-org/llm-async",
    "branch": "main",
    "account": "111111111111",
    "region": "us-east-1",
    "stageAccounts": {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"},
}


@dataclasses.dataclass(frozen=True)
class SynthesizedPipeline:
    template_json: dict[str, Any]
    stages: dict[str, Synthesized]
    """Each stage's LlmAsyncStack, by environment name."""

    @property
    def template(self) -> Template:
        return Template.from_json(self.template_json)


def synthesize_pipeline(outdir: Path, pipeline_context: dict[str, Any] = EXAMPLE_PIPELINE) -> SynthesizedPipeline:
    """The pipeline as app.py builds it from cdk.json's context, rule packs on: raises on a finding."""
    app = cdk.App(context={**cdk_json_context(), CONTEXT_KEY: pipeline_context}, outdir=str(outdir))
    stack = add_pipeline_stack(app, PipelineConfig.from_context(app.node.try_get_context(CONTEXT_KEY)))
    register_rule_packs(app)
    assembly = app.synth()
    stages = {
        stage.config.env_name: Synthesized(
            stage.config, assembly.get_nested_assembly(stage.artifact_id).get_stack_by_name(stage.stack.stack_name).template
        )
        for stage in stack.stages
    }
    return SynthesizedPipeline(assembly.get_stack_by_name(PIPELINE_STACK_ID).template, stages)


S3_WEIGHTS_URI = "s3://my-weights-bucket/models/qwen2.5-7b/"


def s3_weights_config() -> DeploymentConfig:
    sandbox = ENVIRONMENTS["sandbox"]()
    return dataclasses.replace(
        sandbox, model=dataclasses.replace(sandbox.model, weights=S3Weights(S3_WEIGHTS_URI))
    )


OPS_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ops-alarms"


def subscribed_config() -> DeploymentConfig:
    sandbox = ENVIRONMENTS["sandbox"]()
    destinations = (
        ResultSubscription("sqs"),
        ResultSubscription("email", "ml-platform@example.com", topics=("error",)),
        ResultSubscription("https", "https://hooks.example.com/llm", topics=("success",)),
    )
    # Also the operations topic's destinations, and monitoring values other than the defaults.
    monitoring = MonitoringConfig(
        ops_subscriptions=(
            OpsSubscription("email", "llm-oncall@example.com"),
            OpsSubscription("https", "https://pager.example.com/hooks/llm"),
            OpsSubscription("sqs", OPS_QUEUE_ARN),
        ),
        wake_margin_s=600,
        api_5xx_threshold=5,
        log_retention_days=90,
    )
    return dataclasses.replace(
        sandbox, api=dataclasses.replace(sandbox.api, result_subscriptions=destinations), monitoring=monitoring
    )


def vpc_new_config() -> DeploymentConfig:
    """VPC mode, the stack creating the VPC: S3 weights, so no NAT is needed (or created)."""
    return dataclasses.replace(s3_weights_config(), network=NewVpc())


def vpc_nat_config() -> DeploymentConfig:
    """VPC mode with Hub weights: the created VPC needs a NAT gateway (and public subnets for it)."""
    return dataclasses.replace(ENVIRONMENTS["sandbox"](), network=NewVpc(nat_gateways=1))


# An existing VPC's ids, as an account's network team would hand them over (documentation values).
EXISTING_VPC = ExistingVpc(
    vpc_id="vpc-0a1b2c3d4e5f60718",
    subnet_ids=("subnet-0f1e2d3c4b5a69788", "subnet-09a8b7c6d5e4f3a21"),
    availability_zones=("us-east-1a", "us-east-1b"),
    route_table_ids=("rtb-0123456789abcdef0", "rtb-0fedcba9876543210"),
    internet_egress=True,
)


def vpc_existing_config() -> DeploymentConfig:
    """VPC mode in an existing VPC whose subnets route to a NAT gateway: Hub weights."""
    return dataclasses.replace(ENVIRONMENTS["sandbox"](), region="us-east-1", network=EXISTING_VPC)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, every test that needs the CDK (the session's synths, or an app of its own) runs
    on one worker, which starts jsii and synthesizes once; handler, simulator and config tests take the
    other core."""
    for item in items:
        uses_synths = {"synthesized", "pipeline"} & set(getattr(item, "fixturenames", ()))
        if uses_synths or getattr(getattr(item, "module", None), "cdk", None) is not None:
            item.add_marker(pytest.mark.xdist_group("cdk"))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    return synthesize_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def synthesized(pipeline: SynthesizedPipeline, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """The sandbox standalone, dev/staging/prod as the pipeline deploys them, and six sandbox variants."""
    configs = {
        "sandbox": ENVIRONMENTS["sandbox"](),
        "s3-weights": s3_weights_config(),
        "subscribed": subscribed_config(),
        "vpc-new": vpc_new_config(),
        "vpc-nat": vpc_nat_config(),
        "vpc-existing": vpc_existing_config(),
    }
    standalone = {name: synthesize(config, tmp_path_factory.mktemp(name)) for name, config in configs.items()}
    return {"sandbox": standalone.pop("sandbox"), **pipeline.stages, **standalone}


@pytest.fixture(scope="session")
def sandbox(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["sandbox"]


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["prod"]


@pytest.fixture(scope="session")
def s3_weights(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["s3-weights"]


@pytest.fixture(scope="session")
def vpc_new(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["vpc-new"]


@pytest.fixture(scope="session")
def vpc_nat(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["vpc-nat"]


@pytest.fixture(scope="session")
def vpc_existing(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["vpc-existing"]


def normalize_asset_hashes(template: Any) -> Any:
    """Asset hashes change with any byte of an asset; snapshots guard structure, not bytes."""
    text = json.dumps(template, indent=1, sort_keys=True)
    return json.loads(re.sub(r"[0-9a-f]{64}", "<asset-hash>", text))


CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"

# Proves the run checks something: a bare bucket fails a known check, and a metadata skip is honoured.
GUARD = {
    "Resources": {
        "BareBucket": {"Type": "AWS::S3::Bucket"},
        "SkippedBucket": {
            "Type": "AWS::S3::Bucket",
            "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "guard: a skip with its reason"}]}},
        },
    }
}

# No platform: no API key, no policy-metadata mapping download, no package scan.
_OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "BC_API_KEY": "", "PRISMA_API_URL": ""}


@dataclasses.dataclass(frozen=True)
class CheckovProcess:
    process: subprocess.Popen
    names: list[str]
    """Template file names (without `.json`) in the directory checkov reads."""


@pytest.fixture(scope="session")
def checkov_process(
    synthesized: dict[str, Synthesized], pipeline: SynthesizedPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CheckovProcess]:
    """checkov over every template, started as soon as the synths exist and left running in its own process
    (its 10–15 s of CPU then overlap with cfn-lint's); test_checkov.py collects the report."""
    directory = tmp_path_factory.mktemp("checkov")
    templates = {**{name: s.template_json for name, s in synthesized.items()}, "pipeline": pipeline.template_json, "guard": GUARD}
    for name, template in templates.items():
        (directory / f"{name}.json").write_text(json.dumps(template))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))} | _OFFLINE
    command = [str(CHECKOV), "-d", str(directory), "--framework", "cloudformation", "--skip-download", "-o", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    yield CheckovProcess(process, list(templates))
    if process.poll() is None:
        process.kill()
        process.communicate()
