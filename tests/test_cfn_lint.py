"""cfn-lint on every synthesized template: no error or warning beyond the one ignore listed here."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.rules import Rules
from cfnlint.runner import Runner, run_template_by_data

from tests.synths import Synthesized, SynthesizedPipeline

# W3005: CDK writes DependsOn for dependencies a GetAtt already implies (the endpoint config and
# model wait for the role *and* its policy); redundant, harmless, and not ours to drop.
IGNORED = ["W3005"]


@functools.cache
def _rules() -> Rules:
    """cfn-lint's rules, loaded once per worker: loading them takes about a second, linting a template 1–2 s."""
    return Runner(ConfigMixIn()).rules


def lint(template: dict[str, Any], *, ignored: list[str], regions: list[str]) -> list[str]:
    """What `cfn-lint --ignore-checks … --regions …` reports on the template, one line a match."""
    decoded, errors = decode_str(json.dumps(template))
    assert decoded is not None and not errors, errors
    matches = run_template_by_data(decoded, ConfigMixIn(ignore_checks=ignored, regions=regions), _rules())
    return [f"{m.rule.id} {m.message}" for m in matches]


@pytest.mark.parametrize(
    "env", ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing", "vllm", "llama"]
)
def test_cfn_lint_is_clean(synthesized: dict[str, Synthesized], env: str) -> None:
    # A stack pinned to a region is linted there. The sandbox (environment-agnostic, like its variants)
    # also in ap-east-1, one of the regions whose TGI image comes from another account (its mapping).
    region = synthesized[env].config.region or "us-east-1"
    regions = [region, "ap-east-1"] if env == "sandbox" else [region]
    assert lint(synthesized[env].template_json, ignored=IGNORED, regions=regions) == []


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "llama"])
def test_cfn_lint_is_clean_on_the_weights_stack(synthesized: dict[str, Synthesized], env: str) -> None:
    weights = synthesized[env].weights
    assert weights is not None
    assert lint(weights.template_json, ignored=IGNORED, regions=[synthesized[env].config.region or "us-east-1"]) == []


# E3703 on the pipeline only: CDK Pipelines writes each cross-account CloudFormation action's RoleArn
# as Fn::Join, which CloudFormation resolves; cfn-lint 1.58's action-configuration schema check reports
# it as "Prefer using Fn::Sub over Fn::Join", a style preference on generated code, not a deploy error.
PIPELINE_IGNORED = [*IGNORED, "E3703"]


def test_cfn_lint_is_clean_on_the_pipeline(pipeline: SynthesizedPipeline) -> None:
    assert lint(pipeline.template_json, ignored=PIPELINE_IGNORED, regions=["us-east-1"]) == []


def test_cfn_lint_finds_what_it_should() -> None:
    # Guards the tests above against a lint call that silently checks nothing, ignores nothing, or whose
    # shared rules carry state from one template to the next.
    broken = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"NoSuchProperty": 1}}}}
    for _ in range(2):
        assert [m.split()[0] for m in lint(broken, ignored=IGNORED, regions=["us-east-1"])] == ["E3002"]
        assert lint(broken, ignored=[*IGNORED, "E3002"], regions=["us-east-1"]) == []
