"""API Gateway (REST, proxy) entry point: routing, error mapping, logging and metrics via Powertools.

Logging: one structured line per request, written when the answer is known, with the status and,
whenever the request has one, the inference id; handlers add their fields with `logger.append_keys`.
"""

from __future__ import annotations

import os
from functools import cache
from http import HTTPStatus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from inference_api import contract
from inference_api.contract import ApiEnvironment
from inference_api.gateway import (
    answer_refusals,
    caller_of,
    decoded_body,
    idempotency_key,
    json_response,
    lambda_entry_point,
    unavailable_response,
)
from inference_api.inferences import Inferences, NotFound, ServiceUnavailable, Settings, idempotent_inference_id
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
    if event.is_base64_encoded:
        return decoded_body(app)
    return (event.body or "").encode("utf-8", errors="surrogatepass")


@app.post("/invocations")
def submit() -> Response:
    event = app.current_event
    request = parse_request(_body(), event.headers.get("Content-Type"), _limits(), engine=_environment().engine)
    logger.append_keys(shape=request.shape)
    key = idempotency_key(app)
    caller = caller_of(app)
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
    try:
        body = _inferences().status(inference_id, caller_of(app))
    except NotFound:
        # Answered as every refusal (gateway.answer_refusals): logged with its code, counted, JSON.
        raise RequestError(404, "NotFound", f"no inference {inference_id!r}") from None
    logger.append_keys(inference_status=body["status"])
    return json_response(HTTPStatus.OK, body)


answer_refusals(app, logger, metrics, contract.REQUESTS_REJECTED)


@app.exception_handler(ServiceUnavailable)
def _unavailable(error: ServiceUnavailable) -> Response:
    metrics.add_metric(name=contract.SERVICE_UNAVAILABLE, unit=MetricUnit.Count, value=1)
    return unavailable_response(logger, error)


lambda_handler = lambda_entry_point(app, logger, tracer, metrics)
