"""The synth summary (python -m llm_async_tools.summary): what it reads back from each synthesized template."""

from __future__ import annotations

import json

from llm_async_tools.summary import main, summarize, summarize_pipeline
from tests.synths import Synthesized, SynthesizedPipeline


def test_summary_of_the_sandbox_template(sandbox: Synthesized) -> None:
    lines = summarize(sandbox.template_json, "LlmAsyncStack").splitlines()
    assert lines == [
        "Stack        LlmAsyncStack",
        "Endpoint     llm-async-sandbox-g5-2xlarge (async, variant AllTraffic)",
        "Model        Qwen/Qwen2.5-7B-Instruct @ a09a35458c70 (Hugging Face Hub)",
        "Image        per-region mapping of 45 regions, e.g. us-east-1: 763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04",
        "Instance     ml.g5.2xlarge: 1 × NVIDIA A10G, 24 GiB GPU memory; SM_NUM_GPUS=1",
        "Tokens       MAX_INPUT_TOKENS=4096, MAX_TOTAL_TOKENS=8192",
        "Concurrency  84 requests per instance (KV cache: 140,122 tokens)",
        "Capacity     0–1 instances",
        "Scale out    HasBacklogWithoutCapacity Maximum ≥ 1 for 1 min → +1 instance (cooldown 1500 s)",
        "Scale in     IF(FILL(CPUUtilization SampleCount, 0) > 0, FILL(ApproximateBacklogSize Maximum, 0), 1) ≤ 0"
        " for 3 min → set capacity to 0 (cooldown 300 s)",
        "API          POST /invocations, GET /invocations/{id} (AWS_IAM auth, 10 req/s, burst 20)",
        "Batch        OpenAI Batch API: POST /files, POST /batches, GET /batches[/{id}], POST /batches/{id}/cancel,"
        " GET /files/{id}/content; at most 4 chunks of 50 lines in flight (BatchStateMachineArn)",
        "Alarms       9 to the operations topic (0 subscriptions; OpsTopicArn); stuck at zero after 1800 s",
        "Dashboard    llm-async-sandbox-<region>",
        "Cost         $1.52/h at max capacity (1 × $1.515, us-east-1 on-demand list price);"
        " no instance cost while scaled to zero",
    ]


def test_summary_of_prod_shows_warm_windows_and_cost_at_max(prod: Synthesized) -> None:
    text = summarize(prod.template_json, "LlmAsyncStack")
    assert "Schedule     cron(0 8 ? * MON-FRI *) America/New_York: min capacity 1" in text
    assert "Schedule     cron(0 18 ? * MON-FRI *) America/New_York: min capacity 0" in text
    assert "$4.55/h at max capacity (3 × $1.515" in text
    assert "Scale out    ApproximateBacklogSizePerInstance Average > 84 for 2 min → +1 instance (cooldown 300 s)" in text
    assert (
        "Scale in     IF(FILL(CPUUtilization SampleCount, 0) > 1, IF(FILL(ApproximateBacklogSize Maximum, 0) > 84,"
        " CEIL(FILL(ApproximateBacklogSize Maximum, 0) / 84), 1), 3) < 2.5 for 2 min → set capacity to the expression's"
        " value (1–2) (cooldown 300 s)"
    ) in text


def test_summary_of_staged_weights_names_the_manifest_the_deploy_expects(prod: Synthesized) -> None:
    text = summarize(prod.template_json, "LlmAsyncStack")
    prefix = "s3://llm-async-prod-weights-<accountid>-<region>/hub/Qwen/Qwen2.5-7B-Instruct/a09a35458c702b33eeacc393d103063234e8bc28"
    assert f"Model        {prefix}/model/ (S3, network isolated)" in text
    assert f"Weights      staged: the deploy expects {prefix}/manifest.json (docs/weights.md)" in text


def test_summary_counts_ops_subscriptions(synthesized: dict[str, Synthesized]) -> None:
    text = summarize(synthesized["subscribed"].template_json, "LlmAsyncStack")
    assert "Alarms       9 to the operations topic (3 subscriptions; OpsTopicArn); stuck at zero after 2100 s" in text
    assert "Dashboard    llm-async-sandbox-<region>" in text
    assert "Dashboard    llm-async-prod-us-east-1" in summarize(synthesized["prod"].template_json, "LlmAsyncStack")


def test_summary_of_s3_weights(s3_weights: Synthesized) -> None:
    text = summarize(s3_weights.template_json, "LlmAsyncStack")
    assert "Model        s3://my-weights-bucket/models/qwen2.5-7b/ (S3, network isolated)" in text


def test_summary_of_vpc_mode(synthesized: dict[str, Synthesized]) -> None:
    created = summarize(synthesized["vpc-new"].template_json, "LlmAsyncStack")
    assert (
        "Network      VPC mode, created VPC: model and API Lambda in 2 private subnets; endpoints: s3 (gateway),"
        " monitoring, sagemaker.api, sagemaker.runtime, sns, states, xray; 6 interface endpoints bill per hour per AZ,"
        " also at zero instances"
    ) in created
    assert "Network      VPC mode, existing VPC: " in summarize(synthesized["vpc-existing"].template_json, "LlmAsyncStack")
    assert "Network" not in summarize(synthesized["sandbox"].template_json, "LlmAsyncStack")


def test_summary_without_a_synth_says_so(tmp_path, capsys) -> None:
    assert main([str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"no synthesized template at {tmp_path}/LlmAsyncStack.template.json: run the synth first\n"


def test_summary_of_the_pipeline(pipeline: SynthesizedPipeline) -> None:
    assert summarize_pipeline(pipeline.template_json, "LlmAsyncPipelineStack") == (
        "Pipeline     LlmAsyncPipelineStack: example-org/llm-async@main → Dev → Staging → Prod (manual approval);"
        " smoke test after each stage"
    )


def test_summary_says_when_no_pipeline_is_configured(sandbox: Synthesized, tmp_path, capsys) -> None:
    (tmp_path / "LlmAsyncStack.template.json").write_text(json.dumps(sandbox.template_json))
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {"LlmAsyncStack": {}}}))
    (tmp_path / "LlmAsyncPipelineStack.template.json").write_text("{}")  # a leftover of an earlier synth
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Pipeline     not configured: add the llm-async:pipeline context to cdk.json (docs/pipeline.md)"
    )


def test_summary_of_the_vllm_engine(synthesized: dict[str, Synthesized]) -> None:
    lines = summarize(synthesized["vllm"].template_json, "LlmAsyncStack").splitlines()
    assert "Model        Qwen/Qwen2.5-7B-Instruct @ a09a35458c70 (Hugging Face Hub)" in lines
    assert (
        "Image        per-region mapping of 35 regions, e.g. us-east-1:"
        " 763104351884.dkr.ecr.us-east-1.amazonaws.com/vllm:0.30.0-gpu-py312-cu130-ubuntu24.04-sagemaker"
    ) in lines
    assert "Instance     ml.g5.2xlarge: 1 × NVIDIA A10G, 24 GiB GPU memory; SM_VLLM_TENSOR_PARALLEL_SIZE=1" in lines
    assert "Tokens       SM_VLLM_MAX_MODEL_LEN=8192 (prompt and new tokens)" in lines
