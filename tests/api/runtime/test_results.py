"""The generated text read from an engine's result, for each request shape's answer."""

from __future__ import annotations

import pytest
from inference_api.results import generated_text


@pytest.mark.parametrize(
    ("result", "text"),
    [
        # TGI generate through the SageMaker route: a list of one GenerateResponse.
        ([{"generated_text": "Blue.", "details": None}], "Blue."),
        ({"generated_text": "Blue."}, "Blue."),
        # OpenAI chat.completion.
        ({"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Blue."}}]}, "Blue."),
        # A chat answer that only calls tools: no text, yet a known shape.
        ({"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}}]}, ""),
        # OpenAI text_completion.
        ({"object": "text_completion", "choices": [{"index": 0, "text": "Blue."}]}, "Blue."),
    ],
)
def test_the_text_of_each_shape(result, text: str) -> None:
    assert generated_text(result) == text


@pytest.mark.parametrize(
    "result",
    ["plain text", [], [{"generated_text": "a"}, {"generated_text": "b"}], {"choices": []}, {"choices": [{"index": 0}]}, 7],
)
def test_no_text_for_an_unknown_shape(result) -> None:
    assert generated_text(result) is None
