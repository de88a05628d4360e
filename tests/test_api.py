"""The inference API's template: SigV4 auth, throttling, validation, logs, Lambda settings, scoped IAM."""

from __future__ import annotations

import json

from tests.synths import Synthesized


def _function(synth: Synthesized) -> dict:
    return synth.only("AWS::Lambda::Function")[1]["Properties"]


def _function_statements(synth: Synthesized) -> list[dict]:
    _, policy = synth.only("AWS::IAM::Policy", "ApiFunctionRole")
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_every_method_requires_sigv4(sandbox: Synthesized) -> None:
    methods = sandbox.resources("AWS::ApiGateway::Method")
    assert sorted(m["Properties"]["HttpMethod"] for m in methods.values()) == ["GET", "POST"]
    assert {m["Properties"]["AuthorizationType"] for m in methods.values()} == {"AWS_IAM"}


def test_stage_throttling_logging_and_tracing(sandbox: Synthesized, prod: Synthesized) -> None:
    _, stage = sandbox.only("AWS::ApiGateway::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "v1"
    assert props["TracingEnabled"] is True
    assert props["MethodSettings"] == [
        {
            "DataTraceEnabled": False,
            "HttpMethod": "*",
            "LoggingLevel": "ERROR",
            "MetricsEnabled": True,
            "ResourcePath": "/*",
            "ThrottlingBurstLimit": 20,
            "ThrottlingRateLimit": 10,
        }
    ]
    access_logs_id, access_logs = sandbox.only("AWS::Logs::LogGroup", "ApiAccessLogs")
    assert props["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][-2:] == [":log-group:", {"Ref": access_logs_id}]
    assert json.loads(props["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    assert access_logs["Properties"]["RetentionInDays"] == 7  # monitoring.log_retention_days of the sandbox


def test_post_validates_the_body_envelope(sandbox: Synthesized) -> None:
    (post,) = [m for m in sandbox.resources("AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "POST"]
    validator_id, validator = sandbox.only("AWS::ApiGateway::RequestValidator")
    assert validator["Properties"]["ValidateRequestBody"] is True
    assert post["Properties"]["RequestValidatorId"] == {"Ref": validator_id}
    _, model = sandbox.only("AWS::ApiGateway::Model")
    schema = model["Properties"]["Schema"]
    assert (schema["required"], schema["additionalProperties"]) == (["inputs"], False)
    assert schema["properties"]["inputs"] == {"type": "string", "minLength": 1}


def test_gateway_errors_have_the_api_error_shape(sandbox: Synthesized) -> None:
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in sandbox.resources("AWS::ApiGateway::GatewayResponse").values()}
    assert set(responses) == {"BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"}
    # Rendered as API Gateway would: messageString arrives quoted, the validation string escaped.
    rendered = {
        kind: props["ResponseTemplates"]["application/json"]
        .replace("$context.error.messageString", json.dumps('Missing "Authentication" Token'))
        .replace("$context.error.responseType", "MISSING_AUTHENTICATION_TOKEN")
        .replace("$util.escapeJavaScript($context.error.validationErrorString)", '[object has missing required properties (["inputs"])]'.replace('"', '\\"'))
        for kind, props in responses.items()
    }
    assert json.loads(rendered["BAD_REQUEST_BODY"]) == {
        "error": {"code": "InvalidRequest", "message": '[object has missing required properties (["inputs"])]'}
    }
    assert json.loads(rendered["DEFAULT_4XX"]) == {
        "error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": 'Missing "Authentication" Token'}
    }


def test_lambda_runtime_layer_and_environment(sandbox: Synthesized) -> None:
    props = _function(sandbox)
    assert (props["Runtime"], props["Handler"], props["Timeout"], props["TracingConfig"]) == (
        "python3.14",
        "inference_api.handler.lambda_handler",
        15,
        {"Mode": "Active"},
    )
    (layer,) = props["Layers"]
    parameter = sandbox.template_json["Parameters"][layer["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == "/aws/service/powertools/python/x86_64/python3.14/3.37.0"
    bucket_id = sandbox.only("AWS::S3::Bucket", "Payloads0")[0]
    wake_alarm_id = sandbox.only("AWS::CloudWatch::Alarm", "ScalingWakeAlarm")[0]
    assert props["Environment"]["Variables"] == {
        "BUCKET_NAME": {"Ref": bucket_id},
        # A reference, so that on an endpoint replacement the function switches once the new one exists.
        "ENDPOINT_NAME": {"Fn::GetAtt": [sandbox.only("AWS::SageMaker::Endpoint")[0], "EndpointName"]},
        "WAKE_ALARM_NAME": {"Ref": wake_alarm_id},
        "REQUEST_TTL_SECONDS": "21600",
        "INVOCATION_TIMEOUT_SECONDS": "900",
        "MAX_BODY_BYTES": "1048576",
        "MAX_INPUTS_BYTES": "262144",
        "MAX_TOTAL_TOKENS": "8192",
        "POWERTOOLS_SERVICE_NAME": "llm-async-api",
        "POWERTOOLS_METRICS_NAMESPACE": "LlmAsync",
    }


def test_lambda_role_has_no_managed_policy(sandbox: Synthesized) -> None:
    _, role = sandbox.only("AWS::IAM::Role", "ApiFunctionRole")
    assert "ManagedPolicyArns" not in role["Properties"]


def test_lambda_grants_are_scoped_to_single_resources(sandbox: Synthesized) -> None:
    endpoint_id = sandbox.only("AWS::SageMaker::Endpoint")[0]
    bucket_id = sandbox.only("AWS::S3::Bucket", "Payloads0")[0]
    key_id = sandbox.only("AWS::KMS::Key", "PayloadKey")[0]
    wake_alarm_id = sandbox.only("AWS::CloudWatch::Alarm", "ScalingWakeAlarm")[0]
    log_id = sandbox.only("AWS::Logs::LogGroup", "ApiFunctionLogs")[0]

    def objects(prefix: str) -> dict:
        return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}/*"]]}

    granted = {
        tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],): s["Resource"]
        for s in _function_statements(sandbox)
    }
    assert granted == {
        ("logs:CreateLogStream", "logs:PutLogEvents"): {"Fn::GetAtt": [log_id, "Arn"]},
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"): "*",
        # InvokeEndpointAsync on exactly this endpoint's ARN (Ref of AWS::SageMaker::Endpoint).
        ("sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpointAsync"): {"Ref": endpoint_id},
        ("cloudwatch:SetAlarmState",): {"Fn::GetAtt": [wake_alarm_id, "Arn"]},
        ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): objects("input"),
        ("kms:Decrypt", "kms:GenerateDataKey"): {"Fn::GetAtt": [key_id, "Arn"]},
        ("s3:ListBucket",): {"Fn::GetAtt": [bucket_id, "Arn"]},
        ("s3:GetObject",): [objects("failure"), objects("output")],
    }


def test_api_is_named_after_its_endpoint(synthesized: dict[str, Synthesized]) -> None:
    # The name is the ApiName dimension of the API's metrics: a shared default would mix stacks' metrics.
    names = {env: s.only("AWS::ApiGateway::RestApi")[1]["Properties"]["Name"] for env, s in synthesized.items()}
    assert names["sandbox"] == "llm-async-sandbox-api"
    assert names["prod"] == "llm-async-prod-api"


def test_api_url_output(sandbox: Synthesized) -> None:
    api_id = sandbox.only("AWS::ApiGateway::RestApi")[0]
    stage_id = sandbox.only("AWS::ApiGateway::Stage")[0]
    url = sandbox.template_json["Outputs"]["ApiUrl"]["Value"]["Fn::Join"][1]
    assert (url[0], url[1], url[-3:]) == ("https://", {"Ref": api_id}, ["/", {"Ref": stage_id}, "/"])
    sandbox.template.has_resource_properties("AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}})


def test_layer_version_is_the_tested_powertools() -> None:
    from llm_async.api.construct import POWERTOOLS_VERSION
    from tests.conftest import ROOT

    pins = dict(
        line.split("==", 1) for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if "==" in line
    )
    assert pins["aws-lambda-powertools"] == POWERTOOLS_VERSION
