"""What the benchmark scripts' tests share: a script of benchmarks/ (not a package) loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(monkeypatch: pytest.MonkeyPatch, file_name: str) -> ModuleType:
    """benchmarks/`file_name` as the module `<stem>_benchmark`, registered in sys.modules while the test runs: a
    script's dataclasses look their module up there."""
    spec = importlib.util.spec_from_file_location(f"{Path(file_name).stem}_benchmark", BENCHMARKS / file_name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module
