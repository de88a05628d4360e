"""API Gateway (REST, proxy) entry point: routing, error mapping, logging and metrics via Powertools.

Logging: one structured line per request, written when the answer is known, with the status and,
whenever the request has one, the inference id; handlers add their fields with `logger.append_keys`.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import cache
from http import HTTPStatus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from inference_api import contract
from inference_api.contract import ApiEnvironment
from inference_api.gateway import answer_refusals, json_response, lambda_entry_point, unavailable_response
from inference_api.inferences import Inferences, NotFound, ServiceUnavailable, Settings, caller_identity, idempotent_inference_id
from inference_api.request import Limits, RequestError, parse_request
from inference_api.wake import Waker

logger = Logger()
tracer = Tracer()
# Namespace and service from the environment the construct writes (contract.VARIABLES).
metrics = Metrics()
# No Powertools validation (enable_validation, pydantic models): requests are checked by the engine's rule tables
# (request.py), which express what JSON Schema cannot (TGI's f32 rounding, serde's nulls, rules across fields, byte
# limits) with the engine's own error messages. docs/openapi/ describes them, generated from the same tables
# (llm_async_tools/openapi.py); the Lambda needs no pydantic.
app = APIGatewayRestResolver()

IDEMPOTENCY_HEADER = "Idempotency-Key"


@cache
def _environment() -> ApiEnvironment:
    return ApiEnvironment.from_environ(os.environ)


@cache
def _limits() -> Limits:
    return Limits.of(_environment())


@cache
def _s3():  # noqa: ANN202  (a boto3 client; created once per Lambda instance, shared)
    return boto3.client("s3")


@cache
def _inferences() -> Inferences:
    env = _environment()
    settings = Settings(
        bucket=env.bucket_name,
        endpoint_name=env.endpoint_name,
        request_ttl_s=env.request_ttl_s,
        invocation_timeout_s=env.invocation_timeout_s,
    )
    return Inferences(settings, s3=_s3(), sagemaker_runtime=boto3.client("sagemaker-runtime"))


@cache
def _waker() -> Waker:
    return Waker.for_endpoint(_environment(), _s3())


def _body() -> bytes:
    event = app.current_event
    if not event.is_base64_encoded:
        return (event.body or "").encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(event.body or "", validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "MalformedJson", "body: must be base64 when isBase64Encoded is set") from None


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 64 or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise RequestError(
            400, "InvalidHeader", f"{IDEMPOTENCY_HEADER}: must be 1–64 printable ASCII characters without spaces"
        )
    return key


def _caller() -> str:
    identity = app.current_event.request_context.identity
    return caller_identity(identity.user_arn or identity.caller or "anonymous")


@app.post("/invocations")
def submit() -> Response:
    event = app.current_event
    request = parse_request(_body(), event.headers.get("Content-Type"), _limits(), engine=_environment().engine)
    logger.append_keys(shape=request.shape)
    key = _idempotency_key()
    caller = _caller()
    inference_id = idempotent_inference_id(caller, key) if key else None
    if inference_id:
        # Known before the submit: a 409, 422 or 503 for this key is still traceable to its id.
        logger.append_keys(inference_id=inference_id)
    accepted = _inferences().submit(request.payload, caller, inference_id)
    logger.append_keys(inference_id=accepted.inference_id)
    metrics.add_metric(name=contract.INFERENCES_SUBMITTED, unit=MetricUnit.Count, value=1)
    wake = _waker().wake_if_idle()
    if wake == "woken":
        metrics.add_metric(name=contract.WAKE_REQUESTED, unit=MetricUnit.Count, value=1)
    logger.append_keys(wake=wake)
    # The stage (and any base path) is part of the URL the client called: keep it in Location.
    location = f"{event.request_context.path.rstrip('/')}/{accepted.inference_id}"
    return json_response(HTTPStatus.ACCEPTED, accepted.body(), {"Location": location})


@app.get("/invocations/<inference_id>")
def status(inference_id: str) -> Response:
    logger.append_keys(inference_id=inference_id)
    metrics.add_metric(name=contract.STATUS_CHECKS, unit=MetricUnit.Count, value=1)
    body = _inferences().status(inference_id, _caller())
    logger.append_keys(inference_status=body["status"])
    return json_response(HTTPStatus.OK, body)


answer_refusals(app, logger, metrics, contract.REQUESTS_REJECTED)


@app.exception_handler(NotFound)
def _not_found(error: NotFound) -> Response:
    logger.append_keys(error_code="NotFound")
    metrics.add_metric(name=contract.REQUESTS_REJECTED, unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.NOT_FOUND, {"error": {"code": "NotFound", "message": f"no inference {error.args[0]!r}"}})


@app.exception_handler(ServiceUnavailable)
def _unavailable(error: ServiceUnavailable) -> Response:
    metrics.add_metric(name=contract.SERVICE_UNAVAILABLE, unit=MetricUnit.Count, value=1)
    return unavailable_response(logger, error)


lambda_handler = lambda_entry_point(app, logger, tracer, metrics)
