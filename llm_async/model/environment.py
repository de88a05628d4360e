"""The container environment of each engine: how the model, its limits and its privacy settings reach the server.

No aws-cdk-lib here: the synth summary reads what the construct writes.
"""

from __future__ import annotations

from llm_async.model.config import HubWeights, ModelConfig

# Where SageMaker mounts ModelDataSource weights inside the container.
CONTAINER_MODEL_DIR = "/opt/ml/model"


def container_environment(model: ModelConfig) -> dict[str, str]:
    return {"tgi": tgi_environment, "vllm": vllm_environment}[model.engine](model)


def tgi_environment(model: ModelConfig) -> dict[str, str]:
    """The TGI launcher's settings, as the container reads them from its environment."""
    env = {
        "SM_NUM_GPUS": str(model.num_gpus),
        # TGI 3's name; MAX_INPUT_LENGTH is its legacy alias, and setting both aborts start-up
        # (launcher/src/main.rs, TGI v3.3.6).
        "MAX_INPUT_TOKENS": str(model.max_input_tokens),
        "MAX_TOTAL_TOKENS": str(model.max_total_tokens),
        # The launcher sends usage statistics to Hugging Face unless this is `off` (launcher/src/main.rs,
        # `--usage-stats`, TGI v3.3.6): nothing about the deployment leaves the account.
        "USAGE_STATS": "off",
    }
    if isinstance(model.weights, HubWeights):
        env["HF_MODEL_ID"] = model.weights.model_id
        env["HF_MODEL_REVISION"] = model.weights.revision
    else:
        env["HF_MODEL_ID"] = CONTAINER_MODEL_DIR
    if model.quantize:
        env["HF_MODEL_QUANTIZE"] = model.quantize
    return env


def vllm_environment(model: ModelConfig) -> dict[str, str]:
    """AWS's vLLM DLC turns each SM_VLLM_<NAME> into `vllm serve --<name>` (scripts/docker/vllm/sagemaker_args.py,
    aws/deep-learning-containers; docs/design/vllm-engine.md §2)."""
    env = {
        "SM_VLLM_TENSOR_PARALLEL_SIZE": str(model.num_gpus),
        # vLLM counts prompt and new tokens against one context length (vllm/renderers/params.py, vLLM 0.30.0):
        # the API's budget (at most max_total_tokens − max_input_tokens) keeps every request inside it.
        "SM_VLLM_MAX_MODEL_LEN": str(model.max_total_tokens),
        # Without it vLLM fills omitted sampling settings from the model's generation_config.json
        # (vllm/config/model.py, `--generation-config auto`, vLLM 0.30.0): a request means what it says.
        "SM_VLLM_GENERATION_CONFIG": "vllm",
        # Nothing about the deployment leaves the account: vLLM's usage stats (vllm/envs.py, usage/usage_lib.py),
        # the Hub client's telemetry (huggingface_hub constants.py) and the DLC's start-up ping (OPT_OUT_TRACKING).
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OPT_OUT_TRACKING": "true",
    }
    if isinstance(model.weights, HubWeights):
        # The DLC reads HF_MODEL_ID but not HF_MODEL_REVISION: the revision is vLLM's own flag.
        env["HF_MODEL_ID"] = model.weights.model_id
        env["SM_VLLM_REVISION"] = model.weights.revision
    else:
        # S3 weights are mounted at /opt/ml/model, which the DLC serves when it is not empty; nothing to download.
        env["HF_HUB_OFFLINE"] = "1"
    if model.quantize:
        env["SM_VLLM_QUANTIZATION"] = model.quantize
    return env
