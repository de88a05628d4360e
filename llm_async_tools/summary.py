"""A short human summary of a synthesized LlmAsyncStack, read back from the template in cdk.out.

Reading the template (not the configuration) means the summary shows what would be deployed.
Usage: python -m llm_async_tools.summary [cdk.out] [StackName]
"""

from __future__ import annotations

import json
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from llm_async.endpoint import metrics
from llm_async.model.capacity import CAPACITY_METADATA
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.model.staged import WEIGHTS_METADATA
from llm_async.pipeline.config import CONTEXT_KEY as PIPELINE_CONTEXT_KEY
from llm_async.pipeline.config import PIPELINE_STACK_ID
from llm_async_tools.cfn_template import only, read_map_settings, resources_of_type

_COMPARISON = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanOrEqualToThreshold": "≤",
    "LessThanThreshold": "<",
}


def _image(template: dict[str, Any], image: Any) -> str:
    if isinstance(image, str):
        return image
    mapping_name = image["Fn::FindInMap"][0]
    regions = template["Mappings"][mapping_name]
    example = regions.get("us-east-1", next(iter(regions.values())))["uri"]
    return f"per-region mapping of {len(regions)} regions, e.g. us-east-1: {example}"


def _alarm_metric(alarm: dict[str, Any]) -> tuple[str, int]:
    """The alarm's metric (or metric-math expression, its queries written out) as text, and its period in seconds."""
    if "MetricName" in alarm:
        return f"{alarm['MetricName']} {alarm['Statistic']}", alarm["Period"]
    queries = {m["Id"]: m for m in alarm["Metrics"]}
    (returned,) = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
    periods = {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m}
    return _query_text(returned, queries), min(periods)


def _query_text(query: dict[str, Any], queries: dict[str, dict[str, Any]]) -> str:
    if "MetricStat" in query:
        stat = query["MetricStat"]
        return f"{stat['Metric']['MetricName']} {stat['Stat']}"
    # Longest ids first, so that an id inside another (backlog, backlog2) is not replaced within it.
    expression = query["Expression"]
    for query_id in sorted(queries, key=len, reverse=True):
        if query_id != query["Id"] and re.search(rf"\b{re.escape(query_id)}\b", expression):
            expression = re.sub(rf"\b{re.escape(query_id)}\b", _query_text(queries[query_id], queries), expression)
    return expression


def _alarm_line(alarm: dict[str, Any], policies: dict[str, Any]) -> str:
    (action,) = alarm["AlarmActions"]
    step = policies[action["Ref"]]["StepScalingPolicyConfiguration"]
    changes = [adjustment["ScalingAdjustment"] for adjustment in step["StepAdjustments"]]
    if step["AdjustmentType"] != "ExactCapacity":
        effect = ", ".join(f"{change:+d} instance" for change in changes)
    elif len(changes) == 1:
        effect = f"set capacity to {changes[0]}"
    else:
        effect = f"set capacity to the expression's value ({min(changes)}–{max(changes)})"
    metric, period = _alarm_metric(alarm)
    minutes = alarm["EvaluationPeriods"] * period // 60
    return (
        f"{metric} {_COMPARISON[alarm['ComparisonOperator']]}"
        f" {alarm['Threshold']:g} for {minutes} min → {effect} (cooldown {step['Cooldown']} s)"
    )


def _api_lines(template: dict[str, Any]) -> list[str]:
    resources = template["Resources"]
    methods = sorted(
        (r["Properties"]["HttpMethod"], r["Properties"]["AuthorizationType"])
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Method"
    )
    if not methods:
        return []
    (settings,) = only(resources, "AWS::ApiGateway::Stage")["MethodSettings"]
    auth = "/".join(sorted({a for _, a in methods}))
    lines = [
        f"API          POST /invocations, GET /invocations/{{id}} ({auth} auth,"
        f" {settings['ThrottlingRateLimit']:g} req/s, burst {settings['ThrottlingBurstLimit']})"
    ]
    batch = read_map_settings(template)
    if batch is not None:
        lines.append(
            "Batch        OpenAI Batch API: POST /files, POST /batches, GET /batches[/{id}], POST /batches/{id}/cancel,"
            f" GET /files/{{id}}/content; at most {batch.max_concurrency} chunks of {batch.chunk_lines} lines in flight"
            " (BatchStateMachineArn)"
        )
    return lines


def _endpoint_service(endpoint: dict[str, Any]) -> str:
    name = endpoint["ServiceName"]
    return name["Fn::Join"][1][-1].removeprefix(".") if isinstance(name, dict) else name.split(".", 3)[3]


def _network_lines(resources: dict[str, Any], model: dict[str, Any]) -> list[str]:
    """VPC mode: where the model and the Lambda run, and the endpoints that bill while scaled to zero."""
    if "VpcConfig" not in model:
        return []
    vpc = "created VPC" if resources_of_type(resources, "AWS::EC2::VPC") else "existing VPC"
    nat = len(resources_of_type(resources, "AWS::EC2::NatGateway"))
    endpoints = list(resources_of_type(resources, "AWS::EC2::VPCEndpoint").values())
    interface = sorted(_endpoint_service(e) for e in endpoints if e["VpcEndpointType"] == "Interface")
    gateway = sorted(_endpoint_service(e) for e in endpoints if e["VpcEndpointType"] == "Gateway")
    return [
        f"Network      VPC mode, {vpc}{f', {nat} NAT gateway(s)' if nat else ''}: model and API Lambda in"
        f" {len(model['VpcConfig']['Subnets'])} private subnets; endpoints: "
        + (", ".join([*(f"{g} (gateway)" for g in gateway), *interface]) or "none created (the VPC's own)")
        + (f"; {len(interface)} interface endpoints bill per hour per AZ, also at zero instances" if interface else "")
    ]


def _monitoring_lines(resources: dict[str, Any]) -> list[str]:
    """The operations alarms: those whose action publishes to a topic of this stack."""
    topics = {k for k, r in resources.items() if r["Type"] == "AWS::SNS::Topic"}
    paging = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and any(a.get("Ref") in topics for a in r["Properties"].get("AlarmActions", []))
    ]
    if not paging:
        return []
    (ops_topic,) = {a["Ref"] for alarm in paging for a in alarm["AlarmActions"]}
    subscriptions = sum(
        1
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["TopicArn"] == {"Ref": ops_topic}
    )
    stuck = [a["Threshold"] for a in paging if a.get("MetricName") == metrics.AGE_OF_OLDEST_REQUEST]
    (dashboard,) = [r["Properties"]["DashboardName"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    return [
        f"Alarms       {len(paging)} to the operations topic ({subscriptions} subscriptions; OpsTopicArn)"
        + "".join(f"; stuck at zero after {threshold:g} s" for threshold in stuck),
        f"Dashboard    {_text(dashboard)}",
    ]


def _text(value: Any) -> str:
    """A template string, with the pseudo parameters of an environment-agnostic stack as <placeholders>."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<{p['Ref'].removeprefix('AWS::').lower()}>" for p in parts)


def _usd(amount: float) -> str:
    return str(Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def summarize(template: dict[str, Any], stack_name: str) -> str:
    resources = template["Resources"]
    model = only(resources, "AWS::SageMaker::Model")
    (model_resource,) = [r for r in resources.values() if r.get("Type") == "AWS::SageMaker::Model"]
    (variant,) = only(resources, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    endpoint = only(resources, "AWS::SageMaker::Endpoint")
    target = only(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = resources_of_type(resources, "AWS::ApplicationAutoScaling::ScalingPolicy")
    alarms = [
        alarm
        for alarm in resources_of_type(resources, "AWS::CloudWatch::Alarm").values()
        if any(a.get("Ref") in policies for a in alarm.get("AlarmActions", []))
    ]
    env = model["PrimaryContainer"]["Environment"]
    instance = GPU_INSTANCE_TYPES[variant["InstanceType"]]
    scale_out = [_alarm_line(a, policies) for a in alarms if a["ComparisonOperator"].startswith("Greater")]
    scale_in = [_alarm_line(a, policies) for a in alarms if a["ComparisonOperator"].startswith("Less")]
    schedules = target.get("ScheduledActions", [])
    # The container's settings under each engine's names (llm_async/model/environment.py).
    vllm = "SM_VLLM_MAX_MODEL_LEN" in env
    revision = env.get("SM_VLLM_REVISION" if vllm else "HF_MODEL_REVISION")
    source = (
        f"{env['HF_MODEL_ID']} @ {revision[:12]} (Hugging Face Hub)"
        if revision
        else f"{_text(model['PrimaryContainer']['ModelDataSource']['S3DataSource']['S3Uri'])} (S3, network isolated)"
    )
    metadata = model_resource.get("Metadata", {})
    weights, fit = metadata.get(WEIGHTS_METADATA, {}), metadata.get(CAPACITY_METADATA, {})
    gpus, quantize = ("SM_VLLM_TENSOR_PARALLEL_SIZE", "SM_VLLM_QUANTIZATION") if vllm else ("SM_NUM_GPUS", "HF_MODEL_QUANTIZE")
    tokens = (
        f"SM_VLLM_MAX_MODEL_LEN={env['SM_VLLM_MAX_MODEL_LEN']} (prompt and new tokens)"
        if vllm
        else f"MAX_INPUT_TOKENS={env['MAX_INPUT_TOKENS']}, MAX_TOTAL_TOKENS={env['MAX_TOTAL_TOKENS']}"
    )
    lines = [
        f"Stack        {stack_name}",
        f"Endpoint     {endpoint['EndpointName']} (async, variant {variant['VariantName']})",
        f"Model        {source}",
        f"Image        {_image(template, model['PrimaryContainer']['Image'])}",
        f"Instance     {variant['InstanceType']}: {instance.gpus} × {instance.gpu_model},"
        f" {instance.gpu_memory_gib} GiB GPU memory; {gpus}={env[gpus]}"
        + (f", quantize={env[quantize]}" if quantize in env else ""),
        *(
            [f"Weights      staged: the deploy expects {_text(weights['Manifest'])} (docs/weights.md)"]
            if weights.get("Manifest")
            else []
        ),
        f"Tokens       {tokens}",
        f"Concurrency  {variant_concurrency(resources)} requests per instance"
        + (f" (KV cache: {fit['KvCacheBytes'] // fit['KvBytesPerToken']:,} tokens)" if fit.get("KvCacheBytes") else ""),
        f"Capacity     {target['MinCapacity']}–{target['MaxCapacity']} instances",
        *(f"Scale out    {line}" for line in scale_out),
        *(f"Scale in     {line}" for line in scale_in),
        *(
            f"Schedule     {s['Schedule']} {s.get('Timezone', 'UTC')}: min capacity"
            f" {s['ScalableTargetAction']['MinCapacity']}"
            for s in schedules
        ),
        *_api_lines(template),
        *_network_lines(resources, model),
        *_monitoring_lines(resources),
        f"Cost         ${_usd(instance.usd_per_hour * target['MaxCapacity'])}/h at max capacity"
        f" ({target['MaxCapacity']} × ${instance.usd_per_hour:g}, us-east-1 on-demand list price);"
        " no instance cost while scaled to zero",
    ]
    return "\n".join(lines)


def variant_concurrency(resources: dict[str, Any]) -> int:
    config = only(resources, "AWS::SageMaker::EndpointConfig")
    return config["AsyncInferenceConfig"]["ClientConfig"]["MaxConcurrentInvocationsPerInstance"]


def summarize_pipeline(template: dict[str, Any], stack_name: str) -> str:
    """One line: where the pipeline pulls from and the stages it promotes through."""
    (pipeline,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stages = {stage["Name"]: stage["Actions"] for stage in pipeline["Stages"]}
    (source,) = stages["Source"]
    promotions = [
        name + (" (manual approval)" if any(a["ActionTypeId"]["Category"] == "Approval" for a in actions) else "")
        for name, actions in stages.items()
        if any(a["Name"].endswith(".Deploy") for a in actions)
    ]
    origin = f"{source['Configuration']['FullRepositoryId']}@{source['Configuration']['BranchName']}"
    return f"Pipeline     {stack_name}: {origin} → {' → '.join(promotions)}; smoke test after each stage"


def main(argv: list[str]) -> int:
    outdir = Path(argv[0]) if argv else Path("cdk.out")
    stack_name = argv[1] if len(argv) > 1 else "LlmAsyncStack"
    template_path = outdir / f"{stack_name}.template.json"
    if not template_path.is_file():
        print(f"no synthesized template at {template_path}: run the synth first", file=sys.stderr)
        return 1
    print(summarize(json.loads(template_path.read_text()), stack_name))
    # Listed in this synth's manifest (not a leftover file): the context configured a pipeline.
    artifacts = json.loads((outdir / "manifest.json").read_text()).get("artifacts", {})
    if PIPELINE_STACK_ID in artifacts:
        pipeline_template = json.loads((outdir / f"{PIPELINE_STACK_ID}.template.json").read_text())
        print(summarize_pipeline(pipeline_template, PIPELINE_STACK_ID))
    else:
        print(f"Pipeline     not configured: add the {PIPELINE_CONTEXT_KEY} context to cdk.json (docs/pipeline.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
