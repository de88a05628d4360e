"""The default selection (what an engine reads from /opt/ml/model) and --include / --exclude."""

from __future__ import annotations

from llm_async_tools.weights.selection import select

LLAMA = [
    ".gitattributes", "LICENSE", "README.md", "USE_POLICY.md", "config.json", "generation_config.json",
    "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
    "original/consolidated.00.pth", "original/params.json", "original/tokenizer.model",
    "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
]


def test_a_llama_repository_keeps_its_transformers_files_and_leaves_out_original() -> None:
    assert select(LLAMA) == [
        "config.json", "generation_config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    ]


def test_pytorch_weights_beside_safetensors_are_left_out() -> None:
    paths = ["config.json", "model.safetensors", "pytorch_model.bin", "pytorch_model.bin.index.json", "training_args.bin"]
    assert select(paths) == ["config.json", "model.safetensors"]


def test_pytorch_weights_are_the_weights_when_there_are_no_safetensors() -> None:
    paths = ["config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
             "pytorch_model.bin.index.json", "tokenizer.model", "flax_model.msgpack", "tf_model.h5"]
    assert select(paths) == ["config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
                             "pytorch_model.bin.index.json", "tokenizer.model"]


def test_mistrals_consolidated_safetensors_are_left_out_beside_transformers_shards_only() -> None:
    mistral = ["config.json", "consolidated.safetensors", "model-00001-of-00003.safetensors", "params.json", "tekken.json"]
    assert select(mistral) == ["config.json", "model-00001-of-00003.safetensors", "params.json", "tekken.json"]
    assert select(["params.json", "consolidated.safetensors"]) == ["consolidated.safetensors", "params.json"]


def test_other_formats_and_documentation_are_not_selected() -> None:
    paths = ["config.json", "model.safetensors", "model.gguf", "model.onnx", "onnx/model.onnx", "openvino/model.xml",
             "model.Q4_K_M.gguf", "images/chart.png", "README.md", "chat_template.jinja", "qwen.tiktoken", "modeling_x.py"]
    assert select(paths) == ["chat_template.jinja", "config.json", "model.safetensors", "modeling_x.py", "qwen.tiktoken"]


def test_include_replaces_the_default_and_exclude_removes_from_either() -> None:
    assert select(LLAMA, include=["original/*"]) == ["original/consolidated.00.pth", "original/params.json", "original/tokenizer.model"]
    assert select(LLAMA, include=["*.json"], exclude=["original/*", "generation_config.json"]) == [
        "config.json", "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
    ]
    assert "tokenizer.json" not in select(LLAMA, exclude=["tokenizer.json"])
