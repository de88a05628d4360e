"""The batch Lambdas' environment: rendered and parsed through one table, every fault naming its variable."""

from __future__ import annotations

import pytest
from batch_jobs import contract
from batch_jobs.contract import BatchApiEnvironment, BatchEnvironment, ContractError
from inference_api import contract as inference_contract
from inference_api.request import ENGINES

from tests.api.runtime.batch.conftest import BATCH_ENVIRONMENT


def test_the_rendered_environment_parses_back_to_itself() -> None:
    assert BatchApiEnvironment.from_environ(BATCH_ENVIRONMENT.render()) == BATCH_ENVIRONMENT


def test_completion_windows_are_one_comma_separated_variable() -> None:
    assert BATCH_ENVIRONMENT.render()["COMPLETION_WINDOWS"] == "24h,48h"


def test_the_steps_environment_has_no_state_machine() -> None:
    environ = BATCH_ENVIRONMENT.render()
    del environ["STATE_MACHINE_ARN"]
    assert not hasattr(BatchEnvironment.from_environ(environ), "state_machine_arn")


def test_a_missing_variable_is_named() -> None:
    environ = BATCH_ENVIRONMENT.render()
    del environ["STATE_MACHINE_ARN"]
    with pytest.raises(ContractError, match="^environment variable STATE_MACHINE_ARN is not set$"):
        BatchApiEnvironment.from_environ(environ)


def test_a_number_that_is_not_one_is_named() -> None:
    with pytest.raises(ContractError, match="^environment variable MAX_LINES must be an integer \\(got '50k'\\)$"):
        BatchEnvironment.from_environ({**BATCH_ENVIRONMENT.render(), "MAX_LINES": "50k"})


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(ContractError, match="^environment variable ENGINE must be one of tgi, vllm \\(got 'sglang'\\)$"):
        BatchEnvironment.from_environ({**BATCH_ENVIRONMENT.render(), "ENGINE": "sglang"})


@pytest.mark.parametrize("windows", ["24", "1d", "0h", ""])
def test_a_completion_window_must_be_hours(windows: str) -> None:
    with pytest.raises(ContractError, match="^COMPLETION_WINDOWS"):
        BatchEnvironment.from_environ({**BATCH_ENVIRONMENT.render(), "COMPLETION_WINDOWS": windows})


def test_a_window_is_its_hours_in_seconds() -> None:
    assert (BATCH_ENVIRONMENT.window_seconds("24h"), BATCH_ENVIRONMENT.window_seconds("48h")) == (86_400, 172_800)


def test_the_shared_variables_have_the_inference_apis_names() -> None:
    shared = set(inference_contract.VARIABLES) & set(contract.VARIABLES)
    assert shared == set(inference_contract.VARIABLES)  # every request limit, name and setting of the inference API
    assert {name: contract.VARIABLES[name] for name in shared} == {name: inference_contract.VARIABLES[name] for name in shared}


def test_the_engines_are_the_request_parsers() -> None:
    assert contract.ENGINES == ENGINES


def test_the_service_is_the_batch_service() -> None:
    assert BatchEnvironment.from_environ({k: v for k, v in BATCH_ENVIRONMENT.render().items()
                                          if k != "POWERTOOLS_SERVICE_NAME"}).service_name == "llm-async-batch"  # fmt: skip
