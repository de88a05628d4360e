"""The completions shape, `{"prompt": ...}`: TGI 3.3.6's CompletionRequest (router/src/lib.rs) and its handler in
router/src/server.rs, whose generate requests router/src/validation.rs checks. Expectations from the source."""

from __future__ import annotations

import pytest

from tests.api.runtime.request_cases import message, parse


def _forwarded(**fields: object) -> dict:
    return parse({"prompt": "Once upon a time", **fields}).body


def test_a_minimal_request_gets_the_model_and_a_budget() -> None:
    request = parse({"prompt": "Once upon a time"})
    assert (request.shape, request.body) == ("completions", {"prompt": "Once upon a time", "model": "tgi", "max_tokens": 256})


def test_an_openai_client_request_is_normalised() -> None:
    body = _forwarded(model="gpt-3.5-turbo-instruct", top_p=1, temperature=0, max_tokens=None, suffix=None, stream=False)
    assert body == {"prompt": "Once upon a time", "model": "tgi", "temperature": 0, "stream": False, "max_tokens": 256}


@pytest.mark.parametrize("prompt", ["x", " ", ["a"], ["a", "b", "c", "d"]])
def test_one_to_four_prompts(prompt: object) -> None:
    # Prompt: a string or a non-empty list (lib.rs); at most max_client_batch_size, 4 (server.rs, launcher).
    assert parse({"prompt": prompt}).body["prompt"] == prompt


ACCEPTED = {
    "max_tokens": [1, 1024],
    "temperature": [0, 0.2, 3],
    "top_p": [0.5],
    "seed": [0, 2**64 - 1],
    "repetition_penalty": [0.5, 1.3],
    "frequency_penalty": [-2, 2],
    "stop": [[], ["\n\n"], ["a", "b", "c", "d"]],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in ACCEPTED.items() for v in values])
def test_accepted_fields_are_forwarded_unchanged(name: str, value: object) -> None:
    assert _forwarded(**{name: value})[name] == value


@pytest.mark.parametrize(
    "name", ["model", "temperature", "top_p", "seed", "suffix", "repetition_penalty", "frequency_penalty", "stop"]
)
def test_a_null_option_is_dropped(name: str) -> None:
    assert _forwarded(**{name: None}) == {"prompt": "Once upon a time", "model": "tgi", "max_tokens": 256}


PROMPTS = "a non-empty string or a list of 1–4 of them (TGI's MAX_CLIENT_BATCH_SIZE)"
FIELDS = "frequency_penalty, max_tokens, model, prompt, repetition_penalty, seed, stop, stream, suffix, temperature, top_p"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": ""}, 'prompt: must be a non-empty string (got "")'),  # EmptyInput (validation.rs)
        ({"prompt": []}, f"prompt: must be {PROMPTS} (got [])"),  # "Empty array detected" (lib.rs)
        ({"prompt": list("abcde")}, f'prompt: must be {PROMPTS} (got ["a", "b", "c", "d", "e"])'),
        ({"prompt": None}, f"prompt: must be {PROMPTS} (got null)"),
        ({"prompt": ["a", ""]}, 'prompt[1]: must be a non-empty string (got "")'),
        ({"prompt": [1]}, "prompt[0]: must be a non-empty string (got 1)"),
        ({"prompt": [[1, 2]]}, "prompt[0]: must be a non-empty string (got [1, 2])"),  # token ids are not read
        ({"suffix": "The end."}, 'suffix: must be null or absent: TGI does not support a suffix (got "The end.")'),
        ({"suffix": ""}, 'suffix: must be null or absent: TGI does not support a suffix (got "")'),
        ({"stream": True}, "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}"),
        ({"max_tokens": 0}, "max_tokens: must be an integer 1–1024 (got 0)"),
        ({"max_tokens": 1025}, "max_tokens: must be an integer 1–1024 (got 1025)"),
        ({"temperature": -1}, "temperature: must be a number ≥ 0 (0: greedy) (got -1)"),
        ({"top_p": 0}, "top_p: must be a number with 0 < value ≤ 1 (1: dropped, no nucleus filtering) (got 0)"),
        ({"repetition_penalty": 0}, "repetition_penalty: must be a number > 0 (got 0)"),
        ({"frequency_penalty": -3}, "frequency_penalty: must be a number with -2 ≤ value ≤ 2 (got -3)"),
        (
            {"stop": ["a", "b", "c", "d", "e"]},
            'stop: must be a list of at most 4 non-empty strings (got ["a", "b", "c", "d", "e"])',
        ),
        ({"seed": 1.5}, "seed: must be an integer 0–18446744073709551615 (a u64) (got 1.5)"),
        # OpenAI fields CompletionRequest does not have: serde would ignore them; refused (ours).
        ({"n": 2}, f'n: must be one of {FIELDS} (got "n")'),
        ({"echo": True}, f'echo: must be one of {FIELDS} (got "echo")'),
        ({"logprobs": 5}, f'logprobs: must be one of {FIELDS} (got "logprobs")'),
        ({"presence_penalty": 0.5}, f'presence_penalty: must be one of {FIELDS} (got "presence_penalty")'),
        ({"best_of": 2}, f'best_of: must be one of {FIELDS} (got "best_of")'),
        ({"max_completion_tokens": 5}, f'max_completion_tokens: must be one of {FIELDS} (got "max_completion_tokens")'),
    ],
)
def test_refused_fields(fields: dict, expected: str) -> None:
    assert message({"prompt": "Once upon a time", **fields}) == expected
