"""The TGI generate shape with the vLLM engine: translated into a vLLM 0.30.0 completions request
(docs/design/vllm-engine.md §6), or refused naming the shape to send instead. TGI 3.3.6's rules still apply
(router/src/lib.rs, validation.rs), then vLLM's (vllm/sampling_params.py, vllm/renderers/params.py)."""

from __future__ import annotations

import pytest

from tests.api.runtime.vllm_cases import BUDGET, message, parse
from tests.request_samples import GENERATE_OPTIONS

SAMPLED = {"prompt": "x", "max_tokens": BUDGET}
GREEDY = {**SAMPLED, "temperature": 0}
TEMPERATURE = "parameters.temperature: must be a number with 0 < value ≤ 2 (vLLM's ceiling)"
SEED = "parameters.seed: must be an integer 0–9223372036854775807 (vLLM reads an int64)"


def _forwarded(parameters: dict) -> dict:
    return parse({"inputs": "x", "parameters": parameters}).body


def test_the_seed_notebook_request_becomes_a_completions_body() -> None:
    request = parse({"inputs": "Hello, how are you?", "parameters": {"temperature": 0.8}})
    # The shape stays the caller's; the body is vLLM's completions: results.py reads its choices[0].text.
    assert (request.shape, request.body) == (
        "generate",
        {"prompt": "Hello, how are you?", "max_tokens": BUDGET, "temperature": 0.8},
    )


@pytest.mark.parametrize(
    ("body", "forwarded"),
    [
        # Without parameters TGI samples (default_parameters(): do_sample true, lib.rs): vLLM's default temperature 1.
        ({"inputs": "x"}, {"prompt": "x", "max_tokens": BUDGET}),
        ({"inputs": "x", "stream": False}, {"prompt": "x", "max_tokens": BUDGET}),
        # `{}` reads do_sample false and no warper: greedy (server/.../utils/tokens.py), vLLM's temperature 0.
        ({"inputs": "x", "parameters": {}}, GREEDY),
        ({"inputs": "x", "parameters": {"do_sample": False}}, GREEDY),
        ({"inputs": "x", "parameters": {"temperature": 1}}, GREEDY),  # temperature 1 is no warper
        ({"inputs": "x", "parameters": {"temperature": 1.00000001}}, GREEDY),  # 1.0 as TGI's f32
        ({"inputs": "x", "parameters": {"do_sample": True}}, {"prompt": "x", "max_tokens": BUDGET}),
        ({"inputs": "x", "parameters": {"do_sample": True, "temperature": 1}}, {**SAMPLED, "temperature": 1}),
        # Any warper samples, do_sample or not.
        ({"inputs": "x", "parameters": {"do_sample": False, "temperature": 0.5}}, {**SAMPLED, "temperature": 0.5}),
        ({"inputs": "x", "parameters": {"top_k": 5}}, {"prompt": "x", "max_tokens": BUDGET, "top_k": 5}),
        ({"inputs": "x", "parameters": {"top_p": 0.9}}, {"prompt": "x", "max_tokens": BUDGET, "top_p": 0.9}),
        ({"inputs": "x", "parameters": {"temperature": 0.7, "top_k": 40, "top_p": 0.95, "do_sample": True}},
         {"prompt": "x", "max_tokens": BUDGET, "temperature": 0.7, "top_k": 40, "top_p": 0.95}),
    ],
)  # fmt: skip
def test_do_sample_and_the_warpers_decide_greedy_or_sampled(body: dict, forwarded: dict) -> None:
    assert parse(body).body == forwarded


TRANSLATED = [
    ({"max_new_tokens": 7}, {"max_tokens": 7}),
    ({"max_new_tokens": None}, {}),
    ({"repetition_penalty": 1.2}, {"repetition_penalty": 1.2}),
    ({"seed": 42}, {"seed": 42}),
    ({"seed": 2**63 - 1}, {"seed": 2**63 - 1}),
    ({"stop": ["\n", "User:"]}, {"stop": ["\n", "User:"]}),
    ({"stop": []}, {"stop": []}),
    # TGI keeps the last `truncate` tokens (flash_causal_lm.py): vLLM's left truncation.
    ({"truncate": 100}, {"truncate_prompt_tokens": 100, "truncation_side": "left"}),
    ({"truncate": 2048 - BUDGET}, {"truncate_prompt_tokens": 2048 - BUDGET, "truncation_side": "left"}),
    ({"truncate": 1024, "max_new_tokens": 1024}, {"truncate_prompt_tokens": 1024, "truncation_side": "left", "max_tokens": 1024}),
    # TGI prepends the prompt (server.rs); vLLM's echo does (completion/serving.py:533-554). False: TGI's default off.
    ({"return_full_text": True}, {"echo": True}),
    ({"return_full_text": False}, {}),
    # grammar → structured_outputs (sampling_params.py:87-127): one constraint.
    ({"grammar": {"type": "json", "value": {"type": "object"}}}, {"structured_outputs": {"json": {"type": "object"}}}),
    ({"grammar": {"type": "json_object", "value": '{"type": "object"}'}}, {"structured_outputs": {"json": '{"type": "object"}'}}),
    ({"grammar": {"type": "json_schema", "value": {"name": "a", "schema": {"type": "object"}, "strict": True}}},
     {"structured_outputs": {"json": {"type": "object"}}}),
    ({"grammar": {"type": "regex", "value": "[0-9]+"}}, {"structured_outputs": {"regex": "[0-9]+"}}),
    # Parameters that ask for nothing: dropped (best_of ≤ 1, false, 0, null).
    ({"best_of": 1, "details": False, "decoder_input_details": False, "watermark": False, "top_n_tokens": 0,
      "frequency_penalty": 0, "typical_p": None, "adapter_id": None}, {}),
    ({"best_of": 0, "frequency_penalty": 1e-50}, {}),  # 0 as TGI's f32
]  # fmt: skip


@pytest.mark.parametrize(("parameters", "added"), TRANSLATED)
def test_the_translation_table(parameters: dict, added: dict) -> None:
    assert _forwarded(parameters) == {**GREEDY, **added}


@pytest.mark.parametrize("name", GENERATE_OPTIONS)
def test_a_null_option_is_dropped(name: str) -> None:
    # Option<…> fields: serde reads null as absent; nothing is forwarded for them.
    assert _forwarded({name: None}) == GREEDY


def test_the_byte_limit_counts_the_inputs() -> None:
    assert parse({"inputs": "é" * 2000}).body["prompt"] == "é" * 2000
    assert message({"inputs": "x", "parameters": {"max_new_tokens": 1025}}) == (
        "parameters.max_new_tokens: must be an integer 1–1024 (got 1025)"
    )


COMPLETIONS = 'send an OpenAI completions request ({"prompt": ...})'
LOGPROBS = 'send an OpenAI completions request with OpenAI logprobs ({"prompt": ..., "logprobs": N, "echo": true}) instead'


def _refusal(name: str, allowed: str, advice: str, *values: tuple[object, str]) -> list[tuple[dict, str]]:
    return [
        ({name: v}, f"parameters.{name}: must be {allowed} with the vLLM engine: {advice} (got {shown})") for v, shown in values
    ]


UNTRANSLATABLE = [
    *_refusal("typical_p", "absent", f"vLLM has no typical-p sampling; {COMPLETIONS} with top_p or min_p instead",
              (0.5, "0.5"), (0.999, "0.999"), ("x", '"x"')),
    *_refusal("best_of", "0, 1 or absent", f"vLLM 0.30.0 has no best_of; {COMPLETIONS} per candidate instead",
              (2, "2"), (3, "3"), (-1, "-1"), (1.0, "1.0")),
    *_refusal("details", "false or absent", LOGPROBS, (True, "true"), (None, "null")),  # a bool: serde refuses null
    *_refusal("decoder_input_details", "false or absent", LOGPROBS, (True, "true")),
    *_refusal("top_n_tokens", "0 or absent", LOGPROBS, (1, "1"), (5, "5")),
    *_refusal("watermark", "false or absent", f"vLLM has no TGI watermark; {COMPLETIONS} without it instead", (True, "true")),
    *_refusal("adapter_id", "absent", f"the endpoint serves its base model only; {COMPLETIONS} instead",
              ("my-adapter", '"my-adapter"')),
    *_refusal("frequency_penalty", "0 or absent",
              f"its penalty differs from TGI's; {COMPLETIONS} with vLLM's frequency_penalty instead", (0.5, "0.5"), (-2, "-2")),
]  # fmt: skip


@pytest.mark.parametrize(("parameters", "expected"), UNTRANSLATABLE)
def test_what_cannot_be_translated_faithfully_is_refused(parameters: dict, expected: str) -> None:
    assert message({"inputs": "x", "parameters": parameters}) == expected


def test_the_brief_example() -> None:
    assert message({"inputs": "x", "parameters": {"typical_p": 0.5}}).startswith(
        'parameters.typical_p: must be absent with the vLLM engine: vLLM has no typical-p sampling; send an OpenAI '
        'completions request ({"prompt": ...})'
    )  # fmt: skip


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # vLLM's limits on top of TGI's.
        ({"temperature": 2.5}, f"{TEMPERATURE} (got 2.5)"),  # sampling_params.py:583-588
        ({"temperature": 2.0000001}, f"{TEMPERATURE} (got 2.0000001)"),  # a double for vLLM
        ({"seed": 2**63}, f"{SEED} (got 9223372036854775808)"),  # completion/protocol.py:64
        ({"truncate": 2048 - BUDGET + 1},
         f"parameters.truncate: must be an integer 1–{2048 - BUDGET} (max_model_len − max_new_tokens) "
         f"(got {2048 - BUDGET + 1})"),
        ({"truncate": 1025, "max_new_tokens": 1024},
         "parameters.truncate: must be an integer 1–1024 (max_model_len − max_new_tokens) (got 1025)"),  # params.py:251-263
        # TGI's rules still hold: the generate shape means what it means to TGI.
        ({"temperature": 0}, f"{TEMPERATURE} (got 0)"),  # validation.rs
        ({"top_p": 1}, "parameters.top_p: must be a number with 0 < value < 1 (got 1)"),  # validation.rs
        ({"top_k": 0}, "parameters.top_k: must be an integer 1–2147483647 (got 0)"),  # validation.rs
        ({"seed": -1}, f"{SEED} (got -1)"),  # u64
        ({"do_sample": None}, "parameters.do_sample: must be true or false (got null)"),  # bool
        ({"stop": None}, "parameters.stop: must be a list of at most 4 non-empty strings (got null)"),  # Vec
        ({"stop": "\n"}, 'parameters.stop: must be a list of at most 4 non-empty strings (got "\\n")'),
        ({"stop": [""]}, 'parameters.stop: must be a list of at most 4 non-empty strings (got [""])'),  # both engines
        ({"truncate": 0}, "parameters.truncate: must be an integer ≥ 1 (got 0)"),  # validation.rs
        ({"return_full_text": "no"}, 'parameters.return_full_text: must be true or false (got "no")'),
        ({"grammar": {"type": "json"}}, "parameters.grammar.value: must be present"),
        ({"grammar": {"type": "json", "value": "{"}},
         'parameters.grammar.value: must be a JSON Schema object, or a string holding one (got "{")'),
        ({"grammar": {"type": "json", "value": [1]}},
         "parameters.grammar.value: must be a JSON Schema object, or a string holding one (got [1])"),
        ({"grammar": {"type": "json_schema", "value": {"name": "a"}}},
         "parameters.grammar.value.schema: must be a JSON Schema object"),
        ({"grammar": {"type": "regex", "value": 5}}, "parameters.grammar.value: must be a string (got 5)"),
        ({"grammar": {"type": "xml", "value": "a"}},
         'parameters.grammar.type: must be one of json, json_object, json_schema, regex (got "xml")'),
        ({"max_tokens": 5}, "parameters.max_tokens: must be one of adapter_id, best_of, decoder_input_details, details, "
                            "do_sample, frequency_penalty, grammar, max_new_tokens, repetition_penalty, return_full_text, "
                            "seed, stop, temperature, top_k, top_n_tokens, top_p, truncate, typical_p, watermark "
                            '(got "max_tokens")'),
    ],
)  # fmt: skip
def test_refused_parameters(parameters: dict, expected: str) -> None:
    assert message({"inputs": "x", "parameters": parameters}) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"inputs": ""}, 'inputs: must be a non-empty string (got "")'),  # validation.rs; vLLM's "" prompt (protocol.py:567-586)
        ({"inputs": ["x"]}, 'inputs: must be a non-empty string (got ["x"])'),
        ({"inputs": "x", "parameters": None}, "parameters: must be an object (got null)"),
        ({"inputs": "x", "stream": True},
         "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}"),
        ({"inputs": "x", "options": {}}, 'options: must be one of inputs, parameters, stream (got "options")'),
    ],
)  # fmt: skip
def test_refused_bodies(body: dict, expected: str) -> None:
    assert message(body) == expected


def test_a_tgi_grammar_without_properties_is_accepted() -> None:
    # TGI's outlines needs `properties` (validation.rs); vLLM compiles any schema (xgrammar or guidance).
    assert _forwarded({"grammar": {"type": "json", "value": {}}})["structured_outputs"] == {"json": {}}
