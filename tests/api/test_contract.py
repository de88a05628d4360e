"""The construct–Lambda contract: the environment rendered and parsed back, and each refusal naming its variable."""

from __future__ import annotations

import dataclasses
import re

import pytest
from inference_api import contract
from inference_api.contract import VARIABLES, ApiEnvironment, ContractError

# The handler tests' environment (the contract imported as the Lambda imports it, so its classes are these).
from tests.api.runtime.conftest import API_ENVIRONMENT as ENVIRONMENT

INT_FIELDS = [f.name for f in dataclasses.fields(ApiEnvironment) if f.type == "int"]


def test_render_then_from_environ_gives_the_same_environment() -> None:
    assert ApiEnvironment.from_environ(ENVIRONMENT.render()) == ENVIRONMENT


def test_render_writes_every_value_as_text_under_its_variable() -> None:
    assert ENVIRONMENT.render() == {
        "ENGINE": "tgi",
        "BUCKET_NAME": "llm-async-payloads",
        "ENDPOINT_NAME": "llm-async-test",
        "WAKE_ALARM_NAME": "llm-async-test-wake",
        "REQUEST_TTL_SECONDS": "21600",
        "INVOCATION_TIMEOUT_SECONDS": "900",
        "MAX_BODY_BYTES": "20000",
        "MAX_INPUTS_BYTES": "16000",
        "MAX_INPUT_TOKENS": "1024",
        "MAX_TOTAL_TOKENS": "2048",
        "DEFAULT_MAX_NEW_TOKENS": "256",
        "MAX_NEW_TOKENS": "1024",
        # Powertools reads these two itself: the metrics' namespace, and the logs' and metrics' service.
        "POWERTOOLS_METRICS_NAMESPACE": "llm-async-test",
        "POWERTOOLS_SERVICE_NAME": "llm-async-api",
    }


def test_parsed_integers_are_integers() -> None:
    parsed = ApiEnvironment.from_environ(ENVIRONMENT.render())
    assert INT_FIELDS == [
        "request_ttl_s",
        "invocation_timeout_s",
        "max_body_bytes",
        "max_inputs_bytes",
        "max_input_tokens",
        "max_total_tokens",
        "default_max_new_tokens",
        "max_new_tokens",
    ]
    assert all(type(getattr(parsed, name)) is int for name in INT_FIELDS)


def test_other_variables_in_the_environment_are_ignored() -> None:
    assert (
        ApiEnvironment.from_environ({**ENVIRONMENT.render(), "AWS_REGION": "us-east-1", "PATH": "/usr/bin"})
        == ENVIRONMENT
    )


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(ApiEnvironment)])
def test_a_missing_variable_is_named(field: str) -> None:
    environ = ENVIRONMENT.render()
    del environ[VARIABLES[field]]
    with pytest.raises(ContractError, match=f"^environment variable {re.escape(VARIABLES[field])} is not set$"):
        ApiEnvironment.from_environ(environ)


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("text", ["", "15m", "1.5", "ten"])
def test_a_variable_that_is_not_an_integer_is_named_with_its_value(field: str, text: str) -> None:
    environ = {**ENVIRONMENT.render(), VARIABLES[field]: text}
    message = f"environment variable {VARIABLES[field]} must be an integer (got {text!r})"
    with pytest.raises(ContractError, match=f"^{re.escape(message)}$"):
        ApiEnvironment.from_environ(environ)


def test_a_contract_error_is_a_value_error() -> None:
    # The handler fails its first request on a bad environment; callers catching ValueError see it too.
    assert issubclass(ContractError, ValueError)


def test_every_field_has_one_variable_of_its_own() -> None:
    fields = [f.name for f in dataclasses.fields(ApiEnvironment)]
    assert sorted(VARIABLES) == sorted(fields)
    assert len(set(VARIABLES.values())) == len(VARIABLES)


def test_the_service_defaults_to_the_metrics_dimension() -> None:
    assert ENVIRONMENT.service_name == contract.SERVICE_NAME == "llm-async-api"


def test_the_custom_metrics_are_five_distinct_names() -> None:
    assert contract.CUSTOM_METRICS == (
        "InferencesSubmitted",
        "WakeRequested",
        "StatusChecks",
        "RequestsRejected",
        "ServiceUnavailable",
    )


def test_every_engine_the_configuration_offers_has_request_rules_in_the_lambda() -> None:
    # The Lambda cannot import the constructs package (it is not in its asset): the two lists must agree.
    from inference_api.request import ENGINES as LAMBDA_ENGINES

    from llm_async.model.engines import ENGINES

    assert sorted(LAMBDA_ENGINES) == sorted(ENGINES)
