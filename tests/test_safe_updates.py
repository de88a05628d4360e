"""What a deploy of a changed configuration does to the running stack, read from the two templates.

A model change must update the endpoint in place and keep its autoscaled instance count; an instance
type change must replace the endpoint together with its scalable target (SageMaker refuses to change
the instance type of a variant registered with Application Auto Scaling); state must never be replaced.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from llm_async.api.runtime.inference_api.contract import HANDLER
from llm_async.model.presets import QWEN2_5_7B_INSTRUCT
from llm_async_tools.cfn_template import read_map_settings
from tests.synths import Synthesized, synthesize
from tests.update_plan import ADD, KEEP, REMOVE, REPLACE, UPDATE, update_plan

# Resources whose replacement would lose data, keys or subscribers: a config change must never touch them.
STATEFUL_TYPES = ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SNS::Topic", "AWS::Logs::LogGroup")


def _ids(synth: Synthesized, resource_type: str) -> set[str]:
    return set(synth.resources(resource_type))


def _api_function_id(synth: Synthesized) -> str:
    (function_id,) = [k for k, f in synth.resources("AWS::Lambda::Function").items() if f["Properties"]["Handler"] == HANDLER]
    return function_id


def _functions_reading(synth: Synthesized, variable: str) -> set[str]:
    """The functions whose environment carries `variable`: the inference API's, and the batch jobs' that validate
    requests with the same rules or invoke the same endpoint."""
    return {k for k, f in synth.resources("AWS::Lambda::Function").items() if variable in f["Properties"]["Environment"]["Variables"]}


# The "after" synths skip the rule packs: the same constructs pass them in the session's synths.
@pytest.fixture(scope="module")
def model_changed(sandbox: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    config = sandbox.config
    model = dataclasses.replace(config.model, max_input_tokens=config.model.max_input_tokens // 2)
    return synthesize(dataclasses.replace(config, model=model), Path(tmp_path_factory.mktemp("model-changed")), rule_packs=False)


@pytest.fixture(scope="module")
def instance_changed(sandbox: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    config = sandbox.config
    endpoint = dataclasses.replace(config.endpoint, instance_type="ml.g5.12xlarge")
    return synthesize(dataclasses.replace(config, endpoint=endpoint), Path(tmp_path_factory.mktemp("instance-changed")), rule_packs=False)


def test_a_model_change_updates_the_endpoint_in_place(sandbox: Synthesized, model_changed: Synthesized) -> None:
    plan = update_plan(sandbox.template_json, model_changed.template_json)
    changes = {logical_id: action for logical_id, action in plan.items() if action != KEEP}
    (model_id,) = _ids(sandbox, "AWS::SageMaker::Model")
    (config_id,) = _ids(sandbox, "AWS::SageMaker::EndpointConfig")
    (endpoint_id,) = _ids(sandbox, "AWS::SageMaker::Endpoint")
    # A new model and endpoint config (both immutable); the endpoint switches to them (UpdateEndpoint),
    # which SageMaker allows under autoscaling because only the model changes. The functions that check requests
    # (the API's, the batch jobs') are updated with the new token limits.
    checking = _functions_reading(sandbox, "MAX_INPUT_TOKENS")
    assert _api_function_id(sandbox) in checking
    expected = {model_id: REPLACE, config_id: REPLACE, endpoint_id: UPDATE, **dict.fromkeys(checking, UPDATE)}
    # The concurrency per instance is the same (a typical prompt still fits), so the batch state machine is kept.
    assert changes == expected
    endpoint = model_changed.template_json["Resources"][endpoint_id]["Properties"]
    assert endpoint["RetainAllVariantProperties"] is True  # the scaled instance count survives the update


def test_an_instance_type_change_replaces_endpoint_and_scalable_target_together(
    sandbox: Synthesized, instance_changed: Synthesized
) -> None:
    plan = update_plan(sandbox.template_json, instance_changed.template_json)
    replaced = {logical_id for logical_id, action in plan.items() if action == REPLACE}
    assert replaced == (
        _ids(sandbox, "AWS::SageMaker::EndpointConfig")
        | _ids(sandbox, "AWS::SageMaker::Endpoint")
        | _ids(sandbox, "AWS::ApplicationAutoScaling::ScalableTarget")
        | _ids(sandbox, "AWS::ApplicationAutoScaling::ScalingPolicy")
        | {_endpoint_log_group_id(sandbox)}  # SageMaker names it after the endpoint
    )
    # The new endpoint has a new name: CloudFormation creates it before deleting the old one, and the
    # old scalable target (which depends on the old endpoint) is deregistered before that endpoint goes.
    (endpoint_id,) = _ids(sandbox, "AWS::SageMaker::Endpoint")
    names = [s.template_json["Resources"][endpoint_id]["Properties"]["EndpointName"] for s in (sandbox, instance_changed)]
    assert names == ["llm-async-sandbox-g5-2xlarge", "llm-async-sandbox-g5-12xlarge"]
    (target_id,) = _ids(sandbox, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert endpoint_id in instance_changed.template_json["Resources"][target_id]["DependsOn"]
    # The model itself is unchanged: same weights, same SM_NUM_GPUS.
    assert {plan[m] for m in _ids(sandbox, "AWS::SageMaker::Model")} == {KEEP}


def test_the_api_switches_to_a_replacement_endpoint_only_once_it_exists(
    sandbox: Synthesized, instance_changed: Synthesized
) -> None:
    plan = update_plan(sandbox.template_json, instance_changed.template_json)
    (endpoint_id,) = _ids(sandbox, "AWS::SageMaker::Endpoint")
    # Every function that names the endpoint (the API's, the batch jobs' that invoke or wake it) switches with it.
    for function_id in _functions_reading(sandbox, "ENDPOINT_NAME"):
        assert plan[function_id] == UPDATE
        variables = instance_changed.template_json["Resources"][function_id]["Properties"]["Environment"]["Variables"]
        # A reference orders the function's update after the new endpoint's creation (InService).
        assert variables["ENDPOINT_NAME"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}


@pytest.mark.parametrize("change", ["model_changed", "instance_changed"])
def test_no_change_adds_removes_or_replaces_state(
    sandbox: Synthesized, change: str, request: pytest.FixtureRequest
) -> None:
    after: Synthesized = request.getfixturevalue(change)
    plan = update_plan(sandbox.template_json, after.template_json)
    assert not {logical_id for logical_id, action in plan.items() if action in (ADD, REMOVE)}
    stateful = set().union(*(_ids(sandbox, resource_type) for resource_type in STATEFUL_TYPES))
    # The endpoint's log group follows the endpoint's name, so a new endpoint gets a new group; the old
    # one is retained on replacement (its logs expire with their retention), never deleted.
    log_group_id = _endpoint_log_group_id(sandbox)
    assert sandbox.template_json["Resources"][log_group_id]["UpdateReplacePolicy"] == "Retain"
    expected = {"model_changed": KEEP, "instance_changed": REPLACE}[change]
    assert plan[log_group_id] == expected
    stateful.discard(log_group_id)
    assert stateful and {plan[logical_id] for logical_id in stateful} == {KEEP}


def _endpoint_log_group_id(synth: Synthesized) -> str:
    return synth.only("AWS::Logs::LogGroup", "EndpointLogs")[0]


def test_the_plan_detects_replacement_through_a_create_only_property(sandbox: Synthesized) -> None:
    """The helper itself: renaming the bucket (create-only BucketName) must read as a replacement."""
    bucket_id = sandbox.only("AWS::S3::Bucket", "Payloads0")[0]
    after = {**sandbox.template_json, "Resources": dict(sandbox.template_json["Resources"])}
    bucket = after["Resources"][bucket_id]
    after["Resources"][bucket_id] = {**bucket, "Properties": {**bucket["Properties"], "BucketName": "renamed"}}
    plan = update_plan(sandbox.template_json, after)
    assert plan[bucket_id] == REPLACE
    # Everything naming the bucket changes with it; nothing unrelated does.
    assert plan[_api_function_id(sandbox)] == UPDATE
    assert {plan[k] for k in _ids(sandbox, "AWS::SNS::Topic")} == {KEEP}


def test_a_change_of_engine_updates_the_endpoint_in_place(synthesized: dict[str, Synthesized]) -> None:
    # The sandbox on TGI, then on vLLM (`-c engine=vllm`): same instance type, so the same endpoint name.
    tgi, vllm = synthesized["sandbox"], synthesized["vllm"]
    changes = {k: a for k, a in update_plan(tgi.template_json, vllm.template_json).items() if a != KEEP}
    (model_id,) = _ids(tgi, "AWS::SageMaker::Model")
    (config_id,) = _ids(tgi, "AWS::SageMaker::EndpointConfig")
    (endpoint_id,) = _ids(tgi, "AWS::SageMaker::Endpoint")
    (role_policy_id,) = [k for k in _ids(tgi, "AWS::IAM::Policy") if k.startswith("ModelExecutionRoleDefaultPolicy")]
    # A new model (the vLLM image and environment) and endpoint config (with the host AMI vLLM's CUDA needs);
    # the endpoint switches to them in place, keeping its scaled instance count; the role may pull the new
    # image's repository; the functions that check requests apply vLLM's rules (ENGINE).
    engine_readers = _functions_reading(tgi, "ENGINE")
    assert _api_function_id(tgi) in engine_readers
    # vLLM's KV cache holds fewer requests an instance, so the batch Distributed Map's derived concurrency follows
    # (BatchConfig.max_concurrency_for): the state machine is updated in place, never replaced.
    (machine_id,) = _ids(tgi, "AWS::StepFunctions::StateMachine")
    assert [read_map_settings(s.template_json).max_concurrency for s in (tgi, vllm)] == [4, 3]
    expected = {model_id: REPLACE, config_id: REPLACE, endpoint_id: UPDATE, role_policy_id: UPDATE, machine_id: UPDATE,
                **dict.fromkeys(engine_readers, UPDATE)}
    assert changes == expected
    variant = vllm.template_json["Resources"][config_id]["Properties"]["ProductionVariants"][0]
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"
    assert "InferenceAmiVersion" not in tgi.template_json["Resources"][config_id]["Properties"]["ProductionVariants"][0]


@pytest.fixture(scope="module")
def weights_staged(sandbox: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The sandbox's model, its Hub revision now read from staged weights in the deployment's own bucket."""
    config = dataclasses.replace(sandbox.config, model=QWEN2_5_7B_INSTRUCT.staged().model)
    return synthesize(config, Path(tmp_path_factory.mktemp("weights-staged")), rule_packs=False)


def test_moving_the_weights_to_staged_updates_the_endpoint_in_place(sandbox: Synthesized, weights_staged: Synthesized) -> None:
    changes = {k: a for k, a in update_plan(sandbox.template_json, weights_staged.template_json).items() if a != KEEP}
    (model_id,) = _ids(sandbox, "AWS::SageMaker::Model")
    (config_id,) = _ids(sandbox, "AWS::SageMaker::EndpointConfig")
    (endpoint_id,) = _ids(sandbox, "AWS::SageMaker::Endpoint")
    (role_policy_id,) = [k for k in _ids(sandbox, "AWS::IAM::Policy") if k.startswith("ModelExecutionRoleDefaultPolicy")]
    # A new model (S3 data source, network isolation) and endpoint config; the endpoint switches in place; the role
    # may now read the staged prefix. No stateful resource of the stack changes: the weights bucket is the new stack's.
    assert changes == {model_id: REPLACE, config_id: REPLACE, endpoint_id: UPDATE, role_policy_id: UPDATE}
    assert weights_staged.weights is not None and sandbox.weights is None
