"""Which files of a repository are staged: by default, what an engine reads from /opt/ml/model.

TGI and vLLM load a model directory the way transformers' `from_pretrained` does: the configuration, tokenizer and
weight files at the directory's top level (config.json, generation_config.json, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, *.safetensors and model.safetensors.index.json, tokenizer.model,
*.tiktoken, merges.txt / vocab.txt, chat_template.jinja, and *.py for models that need trust_remote_code).
Subdirectories hold other formats for other runtimes (Meta's `original/` consolidated .pth for its reference code,
`onnx/`, `openvino/`, GGUF folders): the engine never opens them, and they can double the bytes staged.

Duplicates left out when the repository has safetensors weights (both engines prefer them, and a repository that
ships both formats ships the same tensors twice):
- PyTorch pickles, *.bin / *.pt / *.pth / *.ckpt, and pytorch_model.bin.index.json;
- Mistral's native `consolidated*.safetensors` when the transformers-format shards `model*.safetensors` exist.
Without safetensors the .bin weights are the weights, and are kept.

Other formats at the top level (*.gguf, *.onnx, *.h5, *.msgpack, *.ot, *.tflite), documentation and images
(README.md, *.png) and .gitattributes match no pattern below and are not staged.

--include replaces this default with the operator's patterns (no duplicate rule: they asked for those files);
--exclude removes files from either. Patterns are huggingface_hub's (`filter_repo_objects`, utils/_paths.py in
2.4.0): fnmatch on the path in the repository, case-sensitive, `*` also matching `/`, as `hf download --include`.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from huggingface_hub.utils import filter_repo_objects

ENGINE_FILES = ("*.json", "*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.model", "*.tiktoken", "*.txt", "*.jinja", "*.py")
"""Top-level files an engine may read (matched against the file name; files in subdirectories are not staged)."""
PYTORCH_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "pytorch_model.bin.index.json")
MISTRAL_NATIVE_WEIGHTS = "consolidated*.safetensors"
TRANSFORMERS_SHARDS = "model*.safetensors"


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(path, pattern) for pattern in patterns)


def default_selection(paths: Iterable[str]) -> list[str]:
    top_level = [path for path in paths if "/" not in path and _matches(path, ENGINE_FILES)]
    safetensors = [path for path in top_level if path.endswith(".safetensors")]
    if not safetensors:
        return top_level
    drop = list(PYTORCH_WEIGHTS)
    if any(fnmatchcase(path, TRANSFORMERS_SHARDS) for path in safetensors):
        drop.append(MISTRAL_NATIVE_WEIGHTS)
    return [path for path in top_level if not _matches(path, drop)]


def select(paths: Iterable[str], include: list[str] | None = None, exclude: list[str] | None = None) -> list[str]:
    """The repository paths to stage, sorted (the order they are downloaded and uploaded in)."""
    paths = list(paths)
    chosen = list(filter_repo_objects(paths, allow_patterns=include)) if include else default_selection(paths)
    if exclude:
        chosen = list(filter_repo_objects(chosen, ignore_patterns=exclude))
    return sorted(chosen)
