"""LlmAsyncPipelineStack: source, synth, self-mutation with the pinned CLI, stages in order, prod approval, smoke tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from llm_async.compliance.rule_packs import register_rule_packs
from llm_async.environments import ENVIRONMENTS
from stacks.pipeline_stack import SMOKE_TEST_GENERATION_S
from tests.conftest import ROOT
from tests.synths import EXAMPLE_PIPELINE, SynthesizedPipeline, cdk_json_context


def _resources(pipeline: SynthesizedPipeline, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in pipeline.template_json["Resources"].items() if v["Type"] == resource_type}


def _stages(pipeline: SynthesizedPipeline) -> dict[str, list[dict[str, Any]]]:
    (props,) = [r["Properties"] for r in _resources(pipeline, "AWS::CodePipeline::Pipeline").values()]
    return {stage["Name"]: stage["Actions"] for stage in props["Stages"]}


def _build_spec(pipeline: SynthesizedPipeline, logical_id_prefix: str) -> dict[str, Any]:
    (project,) = [v for k, v in _resources(pipeline, "AWS::CodeBuild::Project").items() if k.startswith(logical_id_prefix)]
    return json.loads(project["Properties"]["Source"]["BuildSpec"])


def test_source_is_the_configured_connection(pipeline: SynthesizedPipeline) -> None:
    (source,) = _stages(pipeline)["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {
        "ConnectionArn": EXAMPLE_PIPELINE["connectionArn"],
        "FullRepositoryId": EXAMPLE_PIPELINE["repository"],
        "BranchName": EXAMPLE_PIPELINE["branch"],
    }


def test_synth_runs_the_readme_commands_on_python_3_11(pipeline: SynthesizedPipeline) -> None:
    spec = _build_spec(pipeline, "PipelineBuildSynth")
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11"}
    assert spec["phases"]["build"]["commands"] == ["bash scripts/test.sh -q", "bash scripts/synth.sh"]
    assert spec["artifacts"]["base-directory"] == "cdk.out"


def test_self_mutation_installs_the_cli_version_package_json_pins(pipeline: SynthesizedPipeline) -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    spec = _build_spec(pipeline, "PipelineUpdatePipelineSelfMutation")
    assert spec["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{pinned}"]


def test_stages_in_promotion_order_with_prod_behind_a_manual_approval(pipeline: SynthesizedPipeline) -> None:
    stages = _stages(pipeline)
    assert list(stages) == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Staging", "Prod"]
    for name in ("Dev", "Staging", "Prod"):
        actions = sorted(stages[name], key=lambda a: a["RunOrder"])
        names = [a["Name"] for a in actions]
        # The weights stack, the staging step into it, then the endpoint's stack: each action waits for the last.
        expected = [
            "LlmAsyncWeightsStack.Prepare", "LlmAsyncWeightsStack.Deploy", "LlmAsyncWeightsStack.StageWeights",
            "LlmAsyncStack.Prepare", "LlmAsyncStack.Deploy", "SmokeTest",
        ]
        assert names == (["PromoteToProd", *expected] if name == "Prod" else expected)
        assert len({a["RunOrder"] for a in actions}) == len(actions)
        if name == "Prod":
            assert actions[0]["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
        deploy = actions[-2]
        assert deploy["Configuration"]["StackName"] == f"{name}-LlmAsyncStack"


def test_each_stage_deploys_to_its_own_account(pipeline: SynthesizedPipeline) -> None:
    for name, actions in _stages(pipeline).items():
        if name in ("Dev", "Staging", "Prod"):
            account = EXAMPLE_PIPELINE["stageAccounts"][name.lower()]
            deploy_role = actions[0]["RoleArn"] if actions[0]["Name"].endswith("Prepare") else actions[1]["RoleArn"]
            assert f":iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-us-east-1" in json.dumps(deploy_role)


def test_artifacts_are_encrypted_with_a_rotating_key_for_cross_account_deploys(pipeline: SynthesizedPipeline) -> None:
    (key,) = _resources(pipeline, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    (bucket,) = _resources(pipeline, "AWS::S3::Bucket").values()
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_smoke_test_calls_the_stage_api_with_its_outputs_and_waits_for_a_wake(pipeline: SynthesizedPipeline, env: str) -> None:
    stage = env.capitalize()
    (smoke,) = [a for a in _stages(pipeline)[stage] if a["Name"] == "SmokeTest"]
    variables = {v["name"]: v["value"] for v in json.loads(smoke["Configuration"]["EnvironmentVariables"])}
    namespace = next(a["Namespace"] for a in _stages(pipeline)[stage] if a["Name"] == "LlmAsyncStack.Deploy")
    assert variables == {"API_URL": f"#{{{namespace}.ApiUrl}}", "SMOKE_TEST_ROLE_ARN": f"#{{{namespace}.SmokeTestRoleArn}}"}
    wait_s = ENVIRONMENTS[env]().endpoint.startup_budget_s + SMOKE_TEST_GENERATION_S
    spec = _build_spec(pipeline, f"Pipeline{stage}SmokeTest")
    assert spec["phases"]["build"]["commands"][-1] == (
        "/tmp/smoke/bin/python -m llm_async_tools.smoke_test"
        f' --api-url "$API_URL" --role-arn "$SMOKE_TEST_ROLE_ARN" --timeout {wait_s}'
    )
    (project,) = [v for k, v in _resources(pipeline, "AWS::CodeBuild::Project").items() if k.startswith(f"Pipeline{stage}SmokeTest")]
    assert project["Properties"]["TimeoutInMinutes"] * 60 >= wait_s + 300


def test_the_pipeline_smoke_role_may_assume_only_the_three_stage_roles(pipeline: SynthesizedPipeline) -> None:
    (role_id,) = [k for k, v in _resources(pipeline, "AWS::IAM::Role").items() if v["Properties"].get("RoleName") == "llm-async-pipeline-smoke-test"]
    statements = [
        s
        for policy in _resources(pipeline, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sts:AssumeRole" in json.dumps(s["Action"])
    ]
    resources = sorted(json.dumps(r) for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))
    expected = sorted(
        json.dumps({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:role/llm-async-{env}-smoke-test"]]})
        for env, account in EXAMPLE_PIPELINE["stageAccounts"].items()
    )
    assert resources == expected


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_stage_lets_the_pipeline_account_smoke_test_its_api(synthesized: dict, env: str) -> None:
    """The stage's SmokeTestAccess (tests/pipeline/test_smoke_test_access.py), trusting the pipeline's account
    and named by the output the smoke-test action reads."""
    stage = synthesized[env]
    (role_id,) = [
        logical_id
        for logical_id, role in stage.resources("AWS::IAM::Role").items()
        if role["Properties"].get("RoleName") == f"llm-async-{env}-smoke-test"
    ]
    (trust,) = stage.resources("AWS::IAM::Role")[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"]["AWS"] == f"arn:aws:iam::{EXAMPLE_PIPELINE['account']}:root"
    assert stage.template_json["Outputs"]["SmokeTestRoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_stage_stacks_carry_their_account_and_region(synthesized: dict) -> None:
    for env, account in EXAMPLE_PIPELINE["stageAccounts"].items():
        assert (synthesized[env].config.account, synthesized[env].config.region) == (account, "us-east-1")


def test_a_violation_inside_a_stage_fails_synth(tmp_path: Path) -> None:
    """cdk-nag 3 registered on the App reaches stacks nested in Stages (v2 Aspects did not: aws-cdk #20468)."""
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    pipeline_stack = cdk.Stack(app, "Pipeline", env=cdk.Environment(account="111111111111", region="us-east-1"))
    stage = cdk.Stage(pipeline_stack, "Dev", env=cdk.Environment(account="222222222222", region="us-east-1"))
    s3.CfnBucket(cdk.Stack(stage, "LlmAsyncStack"), "DeliberatelyNonCompliant")
    register_rule_packs(app)
    with pytest.raises(Exception, match="^ValidationFailed: ERROR"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    flagged = {c["constructPath"] for v in nag["violations"] for c in v["violatingConstructs"]}
    assert flagged == {"Pipeline/Dev/LlmAsyncStack/DeliberatelyNonCompliant"}
