"""Writes every configuration's synthesized templates, normalised, to a folder; or compares two such folders.

A refactor must not change what CloudFormation deploys. Before it: `python scripts/templates.py dump /tmp/before`;
after it: `python scripts/templates.py dump /tmp/after` and `python scripts/templates.py diff /tmp/before /tmp/after`,
which prints each changed resource (and any changed logical id) and exits 1 if anything differs.

The configurations are the test session's (tests/synths.py): the sandbox, its variants, the pipeline and
its three stages, rule packs on. Asset hashes are normalised: they change with any byte of the Lambda code, and so
does the 8-hex suffix of a pipeline's cdk-assets publish destination ("<asset-hash>:<account>-<region>-<suffix>").
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
def dump(outdir: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.synths import mask_asset_hashes, synthesize_session

    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llm-async-templates-") as work:
        synths = synthesize_session(Path(work))
        templates = {name: synth.template_json for name, synth in synths.synthesized.items()}
        templates["pipeline"] = synths.pipeline.template_json
    for name, template in templates.items():
        (outdir / f"{name}.json").write_text(json.dumps(mask_asset_hashes(template), indent=1, sort_keys=True) + "\n")
    print(f"{len(templates)} templates written to {outdir}")
    return 0


def _differences(name: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = []
    for section in sorted(set(before) | set(after)):
        old, new = before.get(section), after.get(section)
        if old == new:
            continue
        if not (isinstance(old, dict) and isinstance(new, dict)):
            lines.append(f"{name}: section {section} differs")
            continue
        for key in sorted(set(old) | set(new)):
            if key not in new:
                lines.append(f"{name}: {section}.{key} removed")
            elif key not in old:
                lines.append(f"{name}: {section}.{key} added")
            elif old[key] != new[key]:
                lines.append(f"{name}: {section}.{key} changed")
    return lines


def diff(before_dir: Path, after_dir: Path) -> int:
    names = sorted({p.stem for p in before_dir.glob("*.json")} | {p.stem for p in after_dir.glob("*.json")})
    lines = []
    for name in names:
        before, after = before_dir / f"{name}.json", after_dir / f"{name}.json"
        if not before.exists() or not after.exists():
            lines.append(f"{name}: only in {'after' if not before.exists() else 'before'}")
            continue
        lines += _differences(name, json.loads(before.read_text()), json.loads(after.read_text()))
    print("\n".join(lines) if lines else f"{len(names)} templates identical (asset hashes normalised)")
    return 1 if lines else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "dump":
        return dump(Path(argv[1]))
    if len(argv) == 3 and argv[0] == "diff":
        return diff(Path(argv[1]), Path(argv[2]))
    print(__doc__.strip().splitlines()[0] + "\nusage: python scripts/templates.py dump DIR | diff BEFORE AFTER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
