"""The generated text of an engine's result, whichever request shape produced it.

`GET /invocations/{id}` returns the engine's result unchanged plus `text`, so a client reads one field
whatever it sent. The shapes, as the engines answer them:
- chat completions: an OpenAI `chat.completion` object, the text in `choices[0].message.content`;
- completions: an OpenAI `text_completion` object, the text in `choices[0].text`;
- TGI generate: `{"generated_text": ...}`, or a list of one such object (TGI's SageMaker route answers
  a list, router/src/server.rs `compat_generate`, TGI v3.3.6).
"""

from __future__ import annotations

from typing import Any


def generated_text(result: Any) -> str | None:
    """The text the model generated, or None for a result of none of the three shapes (the caller still
    gets the result itself)."""
    if isinstance(result, list) and len(result) == 1:
        result = result[0]
    if not isinstance(result, dict):
        return None
    if isinstance(result.get("generated_text"), str):
        return result["generated_text"]
    choices = result.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    message = choice.get("message")
    if isinstance(message, dict):
        content = message.get("content")
        # A chat answer that only calls tools has no content: no text, but not an unknown shape either.
        return content if isinstance(content, str) else ("" if message.get("tool_calls") else None)
    return choice["text"] if isinstance(choice.get("text"), str) else None
