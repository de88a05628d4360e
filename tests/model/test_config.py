"""What the model serves: `HubWeights`, `S3Weights`, `StagedWeights`, `ModelConfig` and the presets, each bad value one readable line."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import EndpointConfig
from llm_async.model.config import HubWeights, ModelConfig, S3Weights, StagedWeights
from llm_async.model.dlc_table import available_versions
from llm_async.model.engines import ENGINES, TGI, VLLM
from llm_async.model.presets import FALCON_40B_INSTRUCT, FALCON_40B_INSTRUCT_G4DN, PRESETS, QWEN2_5_7B_INSTRUCT
from llm_async.validators import ConfigError

SHA = "1e7fdcc9f45d13704f3826e99937917e007cd975"


def _model(**changes: Any) -> ModelConfig:
    return dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, **changes)


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


# HubWeights


def test_hub_revision_must_be_a_commit_sha() -> None:
    with _raises("model.weights.revision: must be a 40-character lowercase commit sha (got 'main')"):
        HubWeights("tiiuae/falcon-40b-instruct", "main")


def test_hub_revision_must_be_lowercase_and_full_length() -> None:
    # A branch, a tag or a short sha could move or be ambiguous: a redeploy must serve the same weights.
    for revision in (SHA.upper(), SHA[:39], SHA + "0"):
        with _raises(f"model.weights.revision: must be a 40-character lowercase commit sha (got {revision!r})"):
            HubWeights("tiiuae/falcon-40b-instruct", revision)


def test_hub_model_id_shape() -> None:
    with _raises("model.weights.model_id: must be a Hub id 'owner/name' (got 'falcon')"):
        HubWeights("falcon", SHA)


@pytest.mark.parametrize("model_id", ["owner/name/extra", "/name", "owner/", "-owner/name"])
def test_hub_model_id_is_exactly_owner_slash_name(model_id: str) -> None:
    with _raises(f"model.weights.model_id: must be a Hub id 'owner/name' (got {model_id!r})"):
        HubWeights(model_id, SHA)


def test_hub_model_ids_of_the_presets_are_accepted() -> None:
    assert HubWeights("Qwen/Qwen2.5-7B-Instruct", SHA).model_id == "Qwen/Qwen2.5-7B-Instruct"


# S3Weights


def test_s3_weights_must_be_a_prefix() -> None:
    with _raises(
        "model.weights.s3_uri: must be an S3 prefix 's3://bucket/prefix/' ending in '/' (got 's3://b/model.tar.gz')"
    ):
        S3Weights("s3://b/model.tar.gz")


@pytest.mark.parametrize(
    "uri", ["s3://my-bucket/", "https://my-bucket.s3.amazonaws.com/models/", "s3://My_Bucket/models/", "s3://b/models/"]
)
def test_s3_weights_need_a_valid_bucket_and_a_key_prefix(uri: str) -> None:
    with _raises(f"model.weights.s3_uri: must be an S3 prefix 's3://bucket/prefix/' ending in '/' (got {uri!r})"):
        S3Weights(uri)


def test_s3_weights_parts() -> None:
    weights = S3Weights("s3://my-bucket/models/llm/")
    assert (weights.bucket_name, weights.key_prefix) == ("my-bucket", "models/llm/")


def test_s3_weights_parts_of_a_dotted_bucket() -> None:
    weights = S3Weights("s3://weights.example.com/qwen/")
    assert (weights.bucket_name, weights.key_prefix) == ("weights.example.com", "qwen/")


# ModelConfig


def test_num_gpus_range() -> None:
    with _raises("model.num_gpus: must be an integer 1–8 (got 0)"):
        _model(num_gpus=0)


def test_typical_prompt_tokens_is_at_most_a_full_prompt() -> None:
    with _raises("model.typical_prompt_tokens: must be an integer 1–2047 (got 2048)"):
        _model(max_input_tokens=2047, max_total_tokens=4096, typical_prompt_tokens=2048)
    assert _model(max_input_tokens=2047, max_total_tokens=4096, typical_prompt_tokens=2047).typical_prompt_tokens == 2047


def test_max_input_tokens_must_be_below_max_total_tokens() -> None:
    with _raises("model.max_input_tokens: must be < model.max_total_tokens (2048) (got 2048)"):
        _model(max_input_tokens=2048, max_total_tokens=2048)
    assert _model(max_input_tokens=2047, max_total_tokens=2048).max_input_tokens == 2047


def test_quantize_method() -> None:
    with pytest.raises(
        ConfigError, match=r"^model\.quantize: must be None or one of awq, bitsandbytes, .* \(TGI\) \(got 'int3'\)$"
    ):
        _model(quantize="int3")


@pytest.mark.parametrize("method", [None, *TGI.quantize_methods])
def test_every_tgi_quantize_method_is_accepted(method: str | None) -> None:
    assert _model(quantize=method).quantize == method


def test_the_engine_version_must_be_in_its_sdk_table() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^model\.engine_version: must be None or a version of the SDK's huggingface-llm image table \(.*3\.3\.6\) \(got '9\.9\.9'\)$",
    ):
        _model(engine_version="9.9.9")
    with pytest.raises(ConfigError, match=r"^model\.engine_version: must be None or a version of the SDK's vllm image table"):
        _model(engine="vllm", engine_version="3.3.6")  # a TGI version is not one of vLLM's


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_each_engines_default_version_is_in_its_sdk_table(engine: str) -> None:
    model = _model(engine=engine)
    assert model.engine_version is None
    assert model.image_version == ENGINES[engine].default_version in available_versions(ENGINES[engine].framework)


def test_the_engines_are_tgi_and_vllm() -> None:
    assert (TGI.default_version, VLLM.default_version) == ("3.3.6", "0.30.0")
    with pytest.raises(ConfigError, match=r"^model\.engine: must be one of tgi, vllm \(got 'sglang'\)$"):
        _model(engine="sglang")


def test_quantize_methods_are_the_engines_own() -> None:
    # vLLM 0.30 has no bitsandbytes (vllm/model_executor/layers/quantization/__init__.py), TGI has no awq_marlin.
    with pytest.raises(ConfigError, match=r"^model\.quantize: must be None or one of awq, awq_marlin, .* \(vLLM\) \(got 'bitsandbytes'\)$"):
        _model(engine="vllm", quantize="bitsandbytes")
    assert _model(engine="vllm", quantize="awq_marlin").quantize == "awq_marlin"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: _model(name="Falcon_40B"),
            "model.name: must be 1–40 lowercase letters, digits or '-' (got 'Falcon_40B')",
        ),
        (
            lambda: _model(name="a" * 41),
            f"model.name: must be 1–40 lowercase letters, digits or '-' (got {'a' * 41!r})",
        ),
        (
            lambda: _model(weights="tiiuae/falcon-40b"),
            "model.weights: must be HubWeights, S3Weights or StagedWeights (got 'tiiuae/falcon-40b')",
        ),
        (lambda: _model(num_gpus=9), "model.num_gpus: must be an integer 1–8 (got 9)"),
        (lambda: _model(max_input_tokens=0), "model.max_input_tokens: must be an integer ≥ 1 (got 0)"),
        (lambda: _model(max_total_tokens=1), "model.max_total_tokens: must be an integer ≥ 2 (got 1)"),
    ],
)
def test_remaining_rules(build, message: str) -> None:  # noqa: ANN001
    with _raises(message):
        build()


def test_model_accepts_its_bounds() -> None:
    model = _model(name="a" * 40, num_gpus=8, max_input_tokens=1, max_total_tokens=2)
    assert (model.num_gpus, model.max_input_tokens, model.max_total_tokens) == (8, 1, 2)


# Presets


def test_presets_are_keyed_by_model_name() -> None:
    assert sorted(PRESETS) == [
        "falcon-40b-instruct", "falcon-40b-instruct-int8", "llama-3-1-8b-instruct", "qwen2-5-7b-instruct", "qwen2-5-7b-instruct-vllm"
    ]
    assert all(name == preset.model.name for name, preset in PRESETS.items())


def test_each_preset_names_its_engine() -> None:
    assert {name: preset.model.engine for name, preset in PRESETS.items()} == {
        "qwen2-5-7b-instruct": "tgi",
        "qwen2-5-7b-instruct-vllm": "vllm",
        "falcon-40b-instruct": "tgi",
        "falcon-40b-instruct-int8": "tgi",  # bitsandbytes: vLLM 0.30 has no such quantization
        "llama-3-1-8b-instruct": "vllm",  # the maintained engine for a new preset
    }
    qwen, qwen_vllm = PRESETS["qwen2-5-7b-instruct"], PRESETS["qwen2-5-7b-instruct-vllm"]
    assert dataclasses.replace(qwen_vllm.model, name=qwen.model.name, engine="tgi") == qwen.model


def test_falcon_presets_match_the_seed_notebook() -> None:
    for preset in (FALCON_40B_INSTRUCT, FALCON_40B_INSTRUCT_G4DN):
        assert preset.model.weights == HubWeights("tiiuae/falcon-40b-instruct", SHA)
        assert (preset.model.num_gpus, preset.model.max_input_tokens, preset.model.max_total_tokens) == (4, 1900, 2048)
    assert FALCON_40B_INSTRUCT.instance_type == "ml.g5.12xlarge"
    assert FALCON_40B_INSTRUCT.model.quantize is None
    assert (FALCON_40B_INSTRUCT_G4DN.instance_type, FALCON_40B_INSTRUCT_G4DN.model.quantize) == (
        "ml.g4dn.12xlarge",
        "bitsandbytes",
    )


def test_default_preset_is_an_ungated_7b_model_on_one_a10g() -> None:
    model = QWEN2_5_7B_INSTRUCT.model
    assert model.weights == HubWeights("Qwen/Qwen2.5-7B-Instruct", "a09a35458c702b33eeacc393d103063234e8bc28")
    assert (model.num_gpus, model.max_input_tokens, model.max_total_tokens, model.quantize) == (1, 4096, 8192, None)
    assert QWEN2_5_7B_INSTRUCT.instance_type == "ml.g5.2xlarge"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_on_its_instance(name: str) -> None:
    preset = PRESETS[name]
    config = DeploymentConfig(
        env_name="t", model=preset.model, endpoint=EndpointConfig(instance_type=preset.instance_type, name_prefix="t")
    )
    # Every GPU of the instance is a tensor-parallel shard: none idle, none missing.
    assert config.endpoint.instance.gpus == preset.model.num_gpus


# StagedWeights (issue 14): a pinned Hub commit staged into S3, read from the own bucket or an existing one.

QWEN = "Qwen/Qwen2.5-7B-Instruct"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_NAME_RULE = "model.weights.bucket_name: must be None or an S3 bucket name (3–63 lowercase letters, digits, '.', '-')"
KMS_KEY_RULE = "model.weights.kms_key_arn: must be None or a KMS key ARN 'arn:aws:kms:REGION:ACCOUNT:key/ID'"


def test_staged_model_id_shape() -> None:
    with _raises("model.weights.model_id: must be a Hub id 'owner/name' (got 'qwen')"):
        StagedWeights("qwen", SHA)


def test_staged_revision_must_be_a_commit_sha() -> None:
    # The staged copy is of one commit: a branch name would let the bucket and the Hub drift apart.
    with _raises("model.weights.revision: must be a 40-character lowercase commit sha (got 'main')"):
        StagedWeights(QWEN, "main")


@pytest.mark.parametrize("bucket_name", ["Team_Weights", "ab", "a" * 64, "-weights", "weights-", 42])
def test_staged_bucket_name_must_be_an_s3_bucket_name(bucket_name: object) -> None:
    with _raises(f"{BUCKET_NAME_RULE} (got {bucket_name!r})"):
        StagedWeights(QWEN, SHA, bucket_name=bucket_name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kms_key_arn",
    [
        "alias/weights",
        "arn:aws:kms:us-east-1:123456789012:alias/weights",  # an alias: IAM grants on the key itself
        "1234abcd-12ab-34cd-56ef-1234567890ab",  # a bare key id
        "arn:aws:kms:us-east-1:1234:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:s3:::team-weights",
    ],
)
def test_staged_kms_key_arn_must_be_a_key_arn(kms_key_arn: str) -> None:
    with _raises(f"{KMS_KEY_RULE} (got {kms_key_arn!r})"):
        StagedWeights(QWEN, SHA, bucket_name="team-weights", kms_key_arn=kms_key_arn)


def test_staged_kms_key_arn_needs_an_existing_bucket() -> None:
    # The own bucket's key is the weights stack's: a key named here would be a second, unrelated one.
    with _raises(
        "model.weights.kms_key_arn: must be None when bucket_name is None (the own bucket's key is the stack's)"
        f" (got {KEY_ARN!r})"
    ):
        StagedWeights(QWEN, SHA, kms_key_arn=KEY_ARN)


def test_staged_weights_in_an_existing_bucket_with_its_key_are_accepted() -> None:
    weights = StagedWeights(QWEN, SHA, bucket_name="team.weights-01", kms_key_arn=KEY_ARN)
    assert (weights.bucket_name, weights.kms_key_arn, weights.own_bucket) == ("team.weights-01", KEY_ARN, False)


def test_staged_weights_without_a_bucket_read_the_own_bucket() -> None:
    assert StagedWeights(QWEN, SHA).own_bucket is True


def test_staged_model_prefix_is_the_revisions_model_folder() -> None:
    # SageMaker copies every object under it to /opt/ml/model: the manifest must not be among them.
    assert StagedWeights(QWEN, SHA).model_prefix == f"hub/{QWEN}/{SHA}/model/"


def test_staged_manifest_key_sits_beside_the_model_prefix() -> None:
    weights = StagedWeights(QWEN, SHA)
    assert weights.manifest_key == f"hub/{QWEN}/{SHA}/manifest.json"
    assert not weights.manifest_key.startswith(weights.model_prefix)


def test_staged_weights_layout_does_not_depend_on_the_bucket() -> None:
    own, existing = StagedWeights(QWEN, SHA), StagedWeights(QWEN, SHA, bucket_name="team-weights")
    assert (own.model_prefix, own.manifest_key) == (existing.model_prefix, existing.manifest_key)


def test_s3_weights_kms_key_arn_must_be_a_key_arn() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:alias/weights"
    with _raises(f"{KMS_KEY_RULE} (got {arn!r})"):
        S3Weights("s3://my-bucket/models/llm/", kms_key_arn=arn)


def test_s3_weights_accept_a_key_arn_and_default_to_none() -> None:
    assert S3Weights("s3://my-bucket/models/llm/").kms_key_arn is None
    assert S3Weights("s3://my-bucket/models/llm/", kms_key_arn=KEY_ARN).kms_key_arn == KEY_ARN


@pytest.mark.parametrize("weights_bytes", [0, -1, True, 1.5e10, "15 GB"])
def test_weights_bytes_must_be_a_positive_integer(weights_bytes: object) -> None:
    with _raises(f"model.weights_bytes: must be an integer ≥ 1 (got {weights_bytes!r})"):
        _model(weights_bytes=weights_bytes)


def test_weights_bytes_may_be_unknown() -> None:
    assert (_model(weights_bytes=None).weights_bytes, _model(weights_bytes=1).weights_bytes) == (None, 1)


def test_model_accepts_staged_weights() -> None:
    assert _model(weights=StagedWeights(QWEN, SHA)).weights == StagedWeights(QWEN, SHA)


def test_a_multi_region_key_is_a_key_arn_too() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    assert S3Weights("s3://weights/qwen/", kms_key_arn=arn).kms_key_arn == arn
