"""cfn-lint on every synthesized template: no error or warning beyond the one ignore listed here."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from tests.conftest import Synthesized, SynthesizedPipeline

# W3005: CDK writes DependsOn for dependencies a GetAtt already implies (the endpoint config and
# model wait for the role *and* its policy); redundant, harmless, and not ours to drop.
IGNORED = ["W3005"]


# Starts checkov in the background first, so that it runs while cfn-lint does (see conftest.py).
@pytest.mark.usefixtures("checkov_process")
@pytest.mark.parametrize("env", ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing"])
def test_cfn_lint_is_clean(synthesized: dict[str, Synthesized], env: str) -> None:
    # A stack pinned to a region is linted there. The sandbox (environment-agnostic, like its variants)
    # also in ap-east-1, one of the regions whose TGI image comes from another account (its mapping).
    region = synthesized[env].config.region or "us-east-1"
    config = ManualArgs(ignore_checks=IGNORED, regions=[region, "ap-east-1"] if env == "sandbox" else [region])
    matches = lint(json.dumps(synthesized[env].template_json), config=config)
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


# E3703 on the pipeline only: CDK Pipelines writes each cross-account CloudFormation action's RoleArn
# as Fn::Join, which CloudFormation resolves; cfn-lint 1.58's action-configuration schema check reports
# it as "Prefer using Fn::Sub over Fn::Join", a style preference on generated code, not a deploy error.
PIPELINE_IGNORED = [*IGNORED, "E3703"]


def test_cfn_lint_is_clean_on_the_pipeline(pipeline: SynthesizedPipeline) -> None:
    config = ManualArgs(ignore_checks=PIPELINE_IGNORED, regions=["us-east-1"])
    matches = lint(json.dumps(pipeline.template_json), config=config)
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_cfn_lint_finds_what_it_should() -> None:
    # Guards the test above against a lint call that silently checks nothing.
    broken = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"NoSuchProperty": 1}}}}
    assert [m.rule.id for m in lint(json.dumps(broken), config=ManualArgs(ignore_checks=IGNORED))] == ["E3002"]
