"""The contract between the `InferenceApi` construct and its Lambda: the environment and the custom metrics.

One definition of every variable: the construct renders it (`ApiEnvironment.render`), the handler parses
it (`ApiEnvironment.from_environ`), and the tests and the simulator read the same names. Standard library
only: this module ships in the Lambda asset and is imported by the construct and the tools too.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass

SERVICE_NAME = "llm-async-api"
"""Powertools' service: the `service` dimension of the custom metrics and a key of every log line."""

# The custom metrics the handler publishes (Powertools EMF, unit Count, dimension service=SERVICE_NAME)
# in the deployment's own namespace; the dashboard charts each of them.
INFERENCES_SUBMITTED = "InferencesSubmitted"
"""A submit accepted: 202."""
WAKE_REQUESTED = "WakeRequested"
"""A submit that found no instance and set the wake alarm to ALARM."""
STATUS_CHECKS = "StatusChecks"
"""A GET /invocations/{id}."""
REQUESTS_REJECTED = "RequestsRejected"
"""A 4xx from the Lambda: validation, unknown inference id, no such route."""
SERVICE_UNAVAILABLE = "ServiceUnavailable"
"""A 503: SageMaker or S3 refused or throttled."""
CUSTOM_METRICS = (INFERENCES_SUBMITTED, WAKE_REQUESTED, STATUS_CHECKS, REQUESTS_REJECTED, SERVICE_UNAVAILABLE)


class ContractError(ValueError):
    """The Lambda's environment lacks a variable or holds a value it cannot parse."""


@dataclass(frozen=True)
class EndpointSettings:
    """What the inference API and the batch Lambdas both need of the endpoint (batch_jobs.contract shares it)."""

    engine: str
    """The engine serving the endpoint (`tgi`, `vllm`): whose request rules the handler applies."""
    bucket_name: str
    endpoint_name: str
    wake_alarm_name: str
    """The scaling construct's wake alarm: the handler sets it to ALARM when a request finds no instance."""
    request_ttl_s: int
    """RequestTTLSeconds of every InvokeEndpointAsync."""
    invocation_timeout_s: int
    """InvocationTimeoutSeconds of every InvokeEndpointAsync."""


@dataclass(frozen=True)
class RequestLimits:
    """The request limits: one definition for the environments that carry them (ApiEnvironment, batch_jobs.contract)
    and the parser that enforces them (inference_api.request.Limits, which adds their checks)."""

    max_body_bytes: int
    """api.max_body_bytes: the request body as sent."""
    max_inputs_bytes: int
    """api.max_inputs_bytes: UTF-8 bytes of the prompt (all prompts; all message contents for chat)."""
    max_input_tokens: int
    """The container's MAX_INPUT_TOKENS: a request's `truncate` may not exceed it."""
    max_total_tokens: int
    """The container's MAX_TOTAL_TOKENS: input and new tokens together stay within it."""
    default_max_new_tokens: int
    """The budget of new tokens forwarded when a request names none (ours)."""
    max_new_tokens: int
    """The largest budget of new tokens a request may ask for, ≤ max_total_tokens − 1 (ours)."""


# Dataclasses put the last base's fields first: the endpoint's, then the limits, then the class's own, the order the
# variables had when each environment declared them all.
@dataclass(frozen=True)
class ApiEnvironment(RequestLimits, EndpointSettings):
    metrics_namespace: str
    """The deployment's own CloudWatch namespace for CUSTOM_METRICS."""
    service_name: str = SERVICE_NAME

    def render(self) -> dict[str, str]:
        """The Lambda's environment variables (values may be CDK tokens)."""
        return {VARIABLES[f.name]: str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ApiEnvironment:
        types = typing.get_type_hints(cls)
        values: dict[str, str | int] = {}
        for field in dataclasses.fields(cls):
            name = VARIABLES[field.name]
            if name not in environ:
                raise ContractError(f"environment variable {name} is not set")
            values[field.name] = _int(name, environ[name]) if types[field.name] is int else environ[name]
        return cls(**values)  # type: ignore[arg-type]


HANDLER = "inference_api.handler.lambda_handler"
"""The inference API function's handler, as the construct sets it and as template readers (the simulator) find it."""

VARIABLES = {
    "engine": "ENGINE",
    "bucket_name": "BUCKET_NAME",
    "endpoint_name": "ENDPOINT_NAME",
    "wake_alarm_name": "WAKE_ALARM_NAME",
    "request_ttl_s": "REQUEST_TTL_SECONDS",
    "invocation_timeout_s": "INVOCATION_TIMEOUT_SECONDS",
    "max_body_bytes": "MAX_BODY_BYTES",
    "max_inputs_bytes": "MAX_INPUTS_BYTES",
    "max_input_tokens": "MAX_INPUT_TOKENS",
    "max_total_tokens": "MAX_TOTAL_TOKENS",
    "default_max_new_tokens": "DEFAULT_MAX_NEW_TOKENS",
    "max_new_tokens": "MAX_NEW_TOKENS",
    # Powertools reads these two itself (Metrics' namespace, Logger's and Metrics' service).
    "metrics_namespace": "POWERTOOLS_METRICS_NAMESPACE",
    "service_name": "POWERTOOLS_SERVICE_NAME",
}
"""Field → environment variable name; batch_jobs.contract extends this table, so the variables the batch Lambdas share
with this one have its names."""


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ContractError(f"environment variable {name} must be an integer (got {text!r})") from None
