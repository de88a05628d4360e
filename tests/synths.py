"""What the tests synthesize: the configurations, and the synthesized templates with their configuration."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from llm_async.compliance.rule_packs import register_rule_packs
from llm_async.deployment import DeploymentConfig
from llm_async.environments import ENVIRONMENTS, with_engine, with_preset
from llm_async.model.config import S3Weights
from llm_async.monitoring.config import MonitoringConfig, OpsSubscription
from llm_async.network.config import ExistingVpc, NewVpc
from llm_async.notifications.config import ResultSubscription
from llm_async.pipeline.config import CONTEXT_KEY, PIPELINE_STACK_ID, PipelineConfig
from llm_async_tools.security_report import acknowledgments
from stacks.llm_async_app import STACK_ID, cdk_json_context, synthesize_template
from stacks.pipeline_stack import add_pipeline_stack
from stacks.weights_stack import WEIGHTS_STACK_ID

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# cdk-assets' destination ids end in a hash of the asset's destination: `<asset-hash>:<account>-<region>-<8 hex>`.
_DESTINATION_HASH = re.compile(r"(<asset-hash>:\d{12}-[a-z0-9-]+?)-[0-9a-f]{8}\b")


def mask_asset_hashes(template: Any) -> Any:
    """The template with its asset hashes masked (they change with any byte of the Lambda code), and so the hash that
    ends a pipeline's cdk-assets destination ids: what the snapshots and scripts/templates.py compare."""
    text = _ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    return json.loads(_DESTINATION_HASH.sub(r"\1-<destination-hash>", text))


def stack_metadata(assembly_dir: Path, artifact_id: str) -> dict[str, list[dict[str, Any]]]:
    """A stack's construct metadata (path → entries) as its cloud assembly stores it: inline or in a file of its own."""
    artifact = json.loads((assembly_dir / "manifest.json").read_text())["artifacts"][artifact_id]
    extra = artifact.get("additionalMetadataFile")
    return {**artifact.get("metadata", {}), **(json.loads((assembly_dir / extra).read_text()) if extra else {})}


class _SynthesizedStack:
    """A synthesized stack's template, for assertions, and the acknowledgments in its metadata."""

    template_json: dict[str, Any]
    metadata_json: dict[str, list[dict[str, Any]]]
    """The stack's construct metadata in the cloud assembly (cdk-nag's acknowledgments among it)."""

    @property
    def template(self) -> Template:
        return Template.from_json(self.template_json)

    @property
    def acknowledgments(self) -> dict[tuple[str, str], str]:
        """This stack's own: a stage's stack is not part of the pipeline stack's metadata."""
        return {(path.lstrip("/"), finding): reason for (path, finding), reason in acknowledgments(self.metadata_json).items()}


@dataclasses.dataclass(frozen=True)
class Synthesized(_SynthesizedStack):
    config: DeploymentConfig
    template_json: dict[str, Any]
    metadata_json: dict[str, list[dict[str, Any]]]
    assembly_dir: Path | None = None
    """The cloud assembly of a standalone synth (template + metadata), for tools that read cdk.out."""
    weights: Synthesized | None = None
    """LlmAsyncWeightsStack, synthesized beside it when the model reads the deployment's own weights bucket."""

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == resource_type}

    def only(self, resource_type: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
        """The one resource of that type (whose logical id starts with `prefix`)."""
        (item,) = [(k, v) for k, v in self.resources(resource_type).items() if k.startswith(prefix)]
        return item


def synthesize(config: DeploymentConfig, outdir: Path, *, rule_packs: bool = True) -> Synthesized:
    template = synthesize_template(config, outdir, rule_packs=rule_packs)
    return Synthesized(config, template, stack_metadata(outdir, STACK_ID), outdir, _weights(config, outdir, WEIGHTS_STACK_ID))


def _weights(config: DeploymentConfig, assembly_dir: Path, artifact_id: str) -> Synthesized | None:
    template_file = assembly_dir / f"{artifact_id}.template.json"
    if not template_file.exists():
        return None
    return Synthesized(config, json.loads(template_file.read_text()), stack_metadata(assembly_dir, artifact_id), assembly_dir)


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
class SynthesizedPipeline(_SynthesizedStack):
    template_json: dict[str, Any]
    metadata_json: dict[str, list[dict[str, Any]]]
    stages: dict[str, Synthesized]
    """Each stage's LlmAsyncStack, by environment name."""


def synthesize_pipeline(outdir: Path, pipeline_context: dict[str, Any] = EXAMPLE_PIPELINE) -> SynthesizedPipeline:
    """The pipeline as app.py builds it from cdk.json's context, rule packs on: raises on a finding."""
    app = cdk.App(context={**cdk_json_context(), CONTEXT_KEY: pipeline_context}, outdir=str(outdir))
    stack = add_pipeline_stack(app, PipelineConfig.from_context(app.node.try_get_context(CONTEXT_KEY)))
    register_rule_packs(app)
    assembly = app.synth()
    stages = {}
    for stage in stack.stages:
        stage_assembly = assembly.get_nested_assembly(stage.artifact_id)
        stage_template = stage_assembly.get_stack_by_name(stage.stack.stack_name).template
        directory = Path(stage_assembly.directory)
        weights = None if stage.weights_stack is None else _weights(stage.config, directory, stage.weights_stack.artifact_id)
        stages[stage.config.env_name] = Synthesized(
            stage.config, stage_template, stack_metadata(directory, stage.stack.artifact_id), weights=weights
        )
    template = assembly.get_stack_by_name(PIPELINE_STACK_ID).template
    return SynthesizedPipeline(template, stack_metadata(outdir, stack.artifact_id), stages)


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


def llama_config() -> DeploymentConfig:
    """The sandbox serving the gated preset (`-c preset=llama-3-1-8b-instruct`): staged weights in its own bucket, vLLM."""
    return with_preset(ENVIRONMENTS["sandbox"](), "llama-3-1-8b-instruct")


def vllm_config() -> DeploymentConfig:
    """The sandbox served by vLLM (`-c engine=vllm`): its image table, container environment and host AMI."""
    return with_engine(ENVIRONMENTS["sandbox"](), "vllm")


# The session's standalone synths (the pipeline brings dev, staging and prod), by fixture name.
STANDALONE: dict[str, Callable[[], DeploymentConfig]] = {
    "sandbox": ENVIRONMENTS["sandbox"],
    "s3-weights": s3_weights_config,
    "subscribed": subscribed_config,
    "vpc-new": vpc_new_config,
    "vpc-nat": vpc_nat_config,
    "vpc-existing": vpc_existing_config,
    "vllm": vllm_config,
    "llama": llama_config,
}


@dataclasses.dataclass(frozen=True)
class SessionSynths:
    standalone: dict[str, Synthesized]
    pipeline: SynthesizedPipeline

    @property
    def synthesized(self) -> dict[str, Synthesized]:
        """The sandbox standalone, dev/staging/prod as the pipeline deploys them, and the sandbox variants."""
        variants = {name: synth for name, synth in self.standalone.items() if name != "sandbox"}
        return {"sandbox": self.standalone["sandbox"], **self.pipeline.stages, **variants}


def synthesize_session(directory: Path) -> SessionSynths:
    """Every synth the session's fixtures share, each cloud assembly in its own folder under `directory`."""
    pipeline = synthesize_pipeline(directory / "pipeline")
    return SessionSynths({name: synthesize(config(), directory / name) for name, config in STANDALONE.items()}, pipeline)
