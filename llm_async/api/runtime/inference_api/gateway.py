"""The Lambda entry point of an API Gateway (REST, proxy) API, shared by the inference API (inference_api.handler) and
the batch API (batch_jobs.api): Powertools' logging, metrics and tracing around the resolver, and one structured
log line per request, written when the answer is known; and the answers both give alike."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inference_api.inferences import ServiceUnavailable, caller_identity
from inference_api.request import RequestError

IDEMPOTENCY_HEADER = "Idempotency-Key"


def lambda_entry_point(
    app: APIGatewayRestResolver, logger: Logger, tracer: Tracer, metrics: Metrics
) -> Callable[[dict, LambdaContext], dict]:
    """The handler Lambda calls: `app` resolves the event; each API keeps its own logger, tracer and metrics (their
    service names differ)."""

    @logger.inject_lambda_context(clear_state=True)
    # Not in the trace: the inference API's responses carry generated text, the batch API's presigned URLs.
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict, context: LambdaContext) -> dict:
        request = {
            "method": event.get("httpMethod"),
            "resource": event.get("resource"),
            # API Gateway's id, also in the stage's access log line of the same request.
            "api_request_id": (event.get("requestContext") or {}).get("requestId"),
        }
        try:
            response = app.resolve(event, context)
        except Exception:
            # Lambda counts this in Errors (the Lambda errors alarm) and API Gateway answers 502.
            logger.exception("request failed", extra=request)
            raise
        status = response["statusCode"]
        (logger.warning if status >= 500 else logger.info)("request", extra={**request, "status": status})
        return response

    return lambda_handler


def caller_of(app: APIGatewayRestResolver) -> str:
    """Who signed the request (SigV4): the caller whose inferences, files and batches these are."""
    identity = app.current_event.request_context.identity
    return caller_identity(identity.user_arn or identity.caller or "anonymous")


def idempotency_key(app: APIGatewayRestResolver) -> str | None:
    """The request's Idempotency-Key header, if any: 1–64 printable ASCII characters without spaces, else a 400."""
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 64 or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise RequestError(400, "InvalidHeader", f"{IDEMPOTENCY_HEADER}: must be 1–64 printable ASCII characters without spaces")
    return key


def decoded_body(app: APIGatewayRestResolver) -> bytes:
    """The body of a request API Gateway passed base64-encoded (isBase64Encoded), decoded, else a 400."""
    try:
        return base64.b64decode(app.current_event.body or "", validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "MalformedJson", "body: must be base64 when isBase64Encoded is set") from None


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers)


def unavailable_response(logger: Logger, error: ServiceUnavailable) -> Response:
    """503 with Retry-After: an AWS service refused, throttled or failed, and the client may retry."""
    logger.append_keys(error_code="ServiceUnavailable", reason=str(error))
    body = {"error": {"code": "ServiceUnavailable", "message": str(error)}}
    return json_response(HTTPStatus.SERVICE_UNAVAILABLE, body, {"Retry-After": str(error.retry_after_s)})


def answer_refusals(app: APIGatewayRestResolver, logger: Logger, metrics: Metrics, rejected_metric: str) -> None:
    """Registers on `app` the refusals both APIs answer alike, each logged with its error code and counted in
    `rejected_metric`: a RequestError with its own status and body, and 404 for a path no route serves."""

    @app.exception_handler(RequestError)
    def client_error(error: RequestError) -> Response:
        logger.append_keys(error_code=error.code)
        metrics.add_metric(name=rejected_metric, unit=MetricUnit.Count, value=1)
        return json_response(error.status, error.body())

    @app.not_found
    def no_route(_: Exception) -> Response:
        logger.append_keys(error_code="NoSuchRoute")
        metrics.add_metric(name=rejected_metric, unit=MetricUnit.Count, value=1)
        return json_response(HTTPStatus.NOT_FOUND, {"error": {"code": "NotFound", "message": "no such route"}})
