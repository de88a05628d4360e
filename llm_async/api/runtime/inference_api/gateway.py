"""The Lambda entry point of an API Gateway (REST, proxy) API, shared by the inference API (inference_api.handler) and
the batch API (batch_jobs.api): Powertools' logging, metrics and tracing around the resolver, and one structured
log line per request, written when the answer is known."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext


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
