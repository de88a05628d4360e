"""LlmAsyncPipelineStack: source, synth, self-mutation with the pinned CLI, stages in order, prod approval, smoke tests,
weights staging."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from llm_async.compliance.rule_packs import register_rule_packs
from llm_async.environments import ENVIRONMENTS
from llm_async.pipeline.config import PIPELINE_STACK_ID
from stacks.pipeline_stack import SMOKE_TEST_GENERATION_S
from tests.conftest import ROOT
from tests.synths import EXAMPLE_PIPELINE, SynthesizedPipeline, cdk_json_context, synthesize_pipeline


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


# Weights staging (issue 14): after each stage's weights stack, a CodeBuild step stages the pinned revision into its
# bucket as the stage's staging role; a Hub token, if configured, is a Secrets Manager variable of that step only.

QWEN, QWEN_SHA = "Qwen/Qwen2.5-7B-Instruct", "a09a35458c702b33eeacc393d103063234e8bc28"
HUB_TOKEN_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:hf-token-AbCdEf"
WEIGHTS_STAGING_ROLE_NAME = "llm-async-pipeline-weights-staging"


@dataclass(frozen=True)
class TokenPipeline:
    """The pipeline synthesized with hubTokenSecretArn: its template, and the error synthesis raised, if any."""

    template_json: dict[str, Any]
    error: Exception | None


@pytest.fixture(scope="module")
def token_pipeline(tmp_path_factory: pytest.TempPathFactory) -> TokenPipeline:
    outdir = tmp_path_factory.mktemp("token-pipeline")
    error = None
    try:
        synthesize_pipeline(outdir, {**EXAMPLE_PIPELINE, "hubTokenSecretArn": HUB_TOKEN_SECRET_ARN})
    except Exception as raised:  # noqa: BLE001  the rule packs' validation runs after the templates are written
        error = raised
    return TokenPipeline(json.loads((outdir / f"{PIPELINE_STACK_ID}.template.json").read_text()), error)


def _projects(template_json: dict[str, Any], logical_id_prefix: str = "") -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::CodeBuild::Project" and k.startswith(logical_id_prefix)
    }


def _staging_project(template_json: dict[str, Any], env: str) -> dict[str, Any]:
    (project,) = _projects(template_json, f"Pipeline{env.capitalize()}LlmAsyncWeightsStackStageWeights").values()
    return project


def _staging_role_statements(template_json: dict[str, Any]) -> list[dict[str, Any]]:
    resources = template_json["Resources"]
    (role_id,) = [
        k for k, v in resources.items()
        if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("RoleName") == WEIGHTS_STAGING_ROLE_NAME
    ]
    return [
        s
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_weights_staging_installs_pinned_tools_and_stages_the_revision_as_the_stage_role(
    pipeline: SynthesizedPipeline, env: str
) -> None:
    spec = json.loads(_staging_project(pipeline.template_json, env)["Source"]["BuildSpec"])
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11"}
    assert spec["phases"]["build"]["commands"] == [
        "python3 -m venv /tmp/weights",
        "/tmp/weights/bin/pip install --quiet --disable-pip-version-check -c constraints.txt boto3 huggingface_hub",
        # The SDK assumes the stage's role from the build's own credentials, and refreshes it in a long run.
        'mkdir -p ~/.aws && printf "[profile stage]\\nrole_arn = %s\\ncredential_source = EcsContainer\\n"'
        ' "$STAGING_ROLE_ARN" > ~/.aws/config',
        "AWS_PROFILE=stage /tmp/weights/bin/python -m llm_async_tools.weights stage"
        f' --model-id {QWEN} --revision {QWEN_SHA} --bucket "$WEIGHTS_BUCKET" --region us-east-1',
    ]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_weights_staging_reads_the_bucket_and_role_from_the_weights_stacks_outputs(pipeline: SynthesizedPipeline, env: str) -> None:
    actions = _stages(pipeline)[env.capitalize()]
    (staging,) = [a for a in actions if a["Name"] == "LlmAsyncWeightsStack.StageWeights"]
    namespace = next(a["Namespace"] for a in actions if a["Name"] == "LlmAsyncWeightsStack.Deploy")
    variables = {v["name"]: (v["type"], v["value"]) for v in json.loads(staging["Configuration"]["EnvironmentVariables"])}
    assert variables == {
        "WEIGHTS_BUCKET": ("PLAINTEXT", f"#{{{namespace}.WeightsBucketName}}"),
        "STAGING_ROLE_ARN": ("PLAINTEXT", f"#{{{namespace}.StagingRoleArn}}"),
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_weights_staging_has_the_disk_of_a_medium_build_and_three_hours(pipeline: SynthesizedPipeline, env: str) -> None:
    project = _staging_project(pipeline.template_json, env)
    assert (project["Environment"]["ComputeType"], project["TimeoutInMinutes"]) == ("BUILD_GENERAL1_MEDIUM", 180)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_weights_staging_runs_as_the_fixed_name_pipeline_role(pipeline: SynthesizedPipeline, env: str) -> None:
    resources = pipeline.template_json["Resources"]
    role_id = _staging_project(pipeline.template_json, env)["ServiceRole"]["Fn::GetAtt"][0]
    assert resources[role_id]["Properties"]["RoleName"] == WEIGHTS_STAGING_ROLE_NAME
    assert resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}}
    ]


def test_the_pipeline_staging_role_may_assume_only_the_three_stage_staging_roles(pipeline: SynthesizedPipeline) -> None:
    statements = [s for s in _staging_role_statements(pipeline.template_json) if "sts:AssumeRole" in _as_list(s["Action"])]
    assert [_as_list(s["Action"]) for s in statements] == [["sts:AssumeRole"]]
    resources = sorted(json.dumps(r) for s in statements for r in _as_list(s["Resource"]))
    expected = sorted(
        json.dumps({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:role/llm-async-{env}-weights-staging"]]})
        for env, account in EXAMPLE_PIPELINE["stageAccounts"].items()
    )
    assert resources == expected


def test_no_other_role_may_assume_the_stage_staging_roles(pipeline: SynthesizedPipeline) -> None:
    resources = pipeline.template_json["Resources"]
    (role_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("RoleName") == WEIGHTS_STAGING_ROLE_NAME]
    naming = [
        policy["Properties"]["Roles"]
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and "-weights-staging" in json.dumps(policy["Properties"]["PolicyDocument"])
    ]
    assert naming == [[{"Ref": role_id}]]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_without_a_token_secret_the_staging_step_has_no_hub_token(pipeline: SynthesizedPipeline, env: str) -> None:
    variables = _staging_project(pipeline.template_json, env)["Environment"].get("EnvironmentVariables", [])
    assert [v["Name"] for v in variables if v["Name"] == "HF_TOKEN"] == []


def test_without_a_token_secret_no_role_may_read_a_secret(pipeline: SynthesizedPipeline) -> None:
    assert "secretsmanager:" not in json.dumps(pipeline.template_json["Resources"])


def test_a_pipeline_with_a_hub_token_secret_synthesizes_with_the_rule_packs(token_pipeline: TokenPipeline) -> None:
    assert token_pipeline.error is None


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_a_token_secret_is_the_staging_steps_hf_token_from_secrets_manager(token_pipeline: TokenPipeline, env: str) -> None:
    variables = _staging_project(token_pipeline.template_json, env)["Environment"]["EnvironmentVariables"]
    # CodeBuild resolves it with the step's role and masks it in the build log; the template holds the ARN only.
    assert variables == [{"Name": "HF_TOKEN", "Type": "SECRETS_MANAGER", "Value": HUB_TOKEN_SECRET_ARN}]


def test_the_token_reaches_no_other_project(token_pipeline: TokenPipeline) -> None:
    others = {k: p for k, p in _projects(token_pipeline.template_json).items() if "StageWeights" not in k}
    assert others and [k for k, p in others.items() if "HF_TOKEN" in json.dumps(p)] == []


def test_a_token_secret_may_be_read_by_the_staging_role_and_that_secret_only(token_pipeline: TokenPipeline) -> None:
    statements = [s for s in _staging_role_statements(token_pipeline.template_json) if "secretsmanager" in json.dumps(s)]
    (statement,) = statements
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    # CodeBuild appends '*' to a secret ARN it cannot tell complete from partial (aws-codebuild, project.ts).
    assert set(_as_list(statement["Resource"])) <= {HUB_TOKEN_SECRET_ARN, f"{HUB_TOKEN_SECRET_ARN}*"}


def test_a_token_secret_is_readable_by_no_other_role(token_pipeline: TokenPipeline) -> None:
    resources = token_pipeline.template_json["Resources"]
    secret_readers = {
        json.dumps(policy["Properties"]["Roles"])
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and "secretsmanager:" in json.dumps(policy["Properties"]["PolicyDocument"])
    }
    (role_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("RoleName") == WEIGHTS_STAGING_ROLE_NAME]
    assert secret_readers == {json.dumps([{"Ref": role_id}])}
