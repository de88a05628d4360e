"""The security report of a synthesized stack, generated so the review reads what would be deployed.

    python -m llm_async_tools.security_report [cdk.out] [StackName]  > docs/security-report.md

It lists what is encrypted with which key, who may assume each role and what each may do, and every
acknowledged cdk-nag finding with its evidence. All of it is read from the cloud assembly (the
template and the acknowledgment metadata cdk-nag 3 leaves there), never copied by hand; a test fails
when the committed report differs from a fresh synth of the sandbox.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
PACKS = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless")


def _path(resource: dict[str, Any], logical_id: str) -> str:
    """The construct path without the stack, e.g. `Payloads/Resource`; the logical id when unknown."""
    path = resource.get("Metadata", {}).get("aws:cdk:path", logical_id)
    return path.split("/", 1)[1].removesuffix("/Resource") if "/" in path else path


def _with_paths(resources: dict[str, Any], metadata: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each resource with its construct path, from the assembly's metadata (the CLI also writes it into
    the template; a synth without the CLI does not)."""
    paths = {e["data"]: path.lstrip("/") for path, entries in metadata.items() for e in entries if e["type"] == "aws:cdk:logicalId"}
    return {
        logical_id: {**resource, "Metadata": {**resource.get("Metadata", {}), "aws:cdk:path": paths.get(logical_id, logical_id)}}
        for logical_id, resource in resources.items()
    }


def _text(value: Any, resources: dict[str, Any]) -> str:
    """An intrinsic as readable text: references become the construct paths they point at."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_text(v, resources) for v in value)
    if isinstance(value, dict):
        if "Ref" in value:
            target = value["Ref"]
            return f"<{_path(resources[target], target)}>" if target in resources else f"<{target}>"
        if "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"][0], value["Fn::GetAtt"][1]
            name = _path(resources[target], target) if target in resources else target
            return f"<{name}.{attribute}>"
        if "Fn::Join" in value:
            return "".join(_text(v, resources) for v in value["Fn::Join"][1])
        if "Fn::Sub" in value:
            return _text(value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0], resources)
        if "Fn::FindInMap" in value:
            return "<region mapping>"
    return json.dumps(value)


def _key(value: Any, resources: dict[str, Any]) -> str:
    """A KMS key reference as its description (what it is for) and path."""
    target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0] if isinstance(value, dict) else None
    if target in resources and resources[target]["Type"] == "AWS::KMS::Key":
        props = resources[target]["Properties"]
        rotation = "rotation on" if props.get("EnableKeyRotation") else "rotation OFF"
        return f"KMS key `{_path(resources[target], target)}` ({rotation})"
    return f"KMS key {_text(value, resources)}"


def encryption_rows(resources: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for logical_id, resource in resources.items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        where = f"`{_path(resource, logical_id)}`"
        if kind == "AWS::S3::Bucket":
            (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            default = rule["ServerSideEncryptionByDefault"]
            how = _key(default["KMSMasterKeyID"], resources) if "KMSMasterKeyID" in default else default["SSEAlgorithm"] + " (S3-managed)"
            rows.append((where, "S3 bucket", how))
        elif kind == "AWS::SNS::Topic":
            rows.append((where, "SNS topic", _key(props["KmsMasterKeyId"], resources) if "KmsMasterKeyId" in props else "NOT ENCRYPTED"))
        elif kind == "AWS::SQS::Queue":
            how = _key(props["KmsMasterKeyId"], resources) if "KmsMasterKeyId" in props else ("SSE-SQS (SQS-managed)" if props.get("SqsManagedSseEnabled") else "NOT ENCRYPTED")
            rows.append((where, "SQS queue", how))
        elif kind == "AWS::Logs::LogGroup":
            rows.append((where, "log group", _key(props["KmsKeyId"], resources) if "KmsKeyId" in props else "NOT ENCRYPTED"))
        elif kind == "AWS::SageMaker::EndpointConfig":
            output = props["AsyncInferenceConfig"]["OutputConfig"]
            rows.append((where, "async inference results", _key(output["KmsKeyId"], resources) if "KmsKeyId" in output else "NOT ENCRYPTED"))
    return sorted(rows)


def _principals(trust: dict[str, Any], resources: dict[str, Any]) -> str:
    found = []
    for statement in trust["Statement"]:
        for kind, value in statement.get("Principal", {}).items():
            for principal in value if isinstance(value, list) else [value]:
                found.append(f"{kind} {_text(principal, resources)}")
        if "Condition" in statement:
            found[-1] += f" if {_text(statement['Condition'], resources)}"
    return "; ".join(found)


def access_rows(resources: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Per role: who may assume it, and each statement's actions on its resources."""
    grants: dict[str, list[str]] = defaultdict(list)
    for policy in resources.values():
        if policy["Type"] != "AWS::IAM::Policy":
            continue
        for role in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                condition = " (conditional)" if "Condition" in statement else ""
                grants[role["Ref"]].append(f"{', '.join(actions)} on {_text(statement['Resource'], resources)}{condition}")
    rows = []
    for logical_id, role in resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        managed = role["Properties"].get("ManagedPolicyArns", [])
        statements = grants.get(logical_id, []) + [f"managed policy {_text(arn, resources)}" for arn in managed]
        rows.append((f"`{_path(role, logical_id)}`", _principals(role["Properties"]["AssumeRolePolicyDocument"], resources), "<br>".join(statements) or "nothing"))
    return sorted(rows)


def acknowledgments(metadata: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], str]:
    """(construct path, finding id) → evidence, for every acknowledgment the synth recorded in the assembly."""
    return {
        (path, finding.removeprefix("Annotation::")): reason
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED
        for finding, reason in entry["data"].items()
    }


def acknowledgment_rows(metadata: dict[str, list[dict[str, Any]]], stack_name: str) -> list[tuple[str, str, str]]:
    return sorted(
        (f"`{path.removeprefix(f'/{stack_name}/')}`", f"`{finding}`", reason)
        for (path, finding), reason in acknowledgments(metadata).items()
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    escape = lambda cell: cell.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return [f"| {' | '.join(header)} |", f"| {' | '.join('---' for _ in header)} |", *(f"| {' | '.join(map(escape, row))} |" for row in rows)]


def render(assembly: Path, stack_name: str) -> str:
    template = json.loads((assembly / f"{stack_name}.template.json").read_text())
    metadata = json.loads((assembly / f"{stack_name}.metadata.json").read_text())
    resources = _with_paths(template["Resources"], metadata)
    acknowledgments = acknowledgment_rows(metadata, stack_name)
    per_pack = Counter(next(p for p in PACKS if finding.strip("`").startswith(f"{p}-")) for _, finding, _ in acknowledgments)
    lines = [
        f"# Security report: {stack_name}",
        "",
        "Generated by `python -m llm_async_tools.security_report` from the synthesized sandbox stack; do not edit.",
        "`scripts/synth.sh` followed by the command regenerates it, and a test fails while it is stale.",
        "",
        "## Encryption at rest",
        "",
        *_table(("Resource", "Kind", "Encrypted with"), encryption_rows(resources)),
        "",
        "In transit: every bucket, topic and queue policy denies requests without TLS (`aws:SecureTransport`),",
        "and the API is HTTPS only.",
        "",
        "## Who may call what",
        "",
        "Each role, who may assume it, and what it may do (`<…>` names a resource of this stack).",
        "The API itself accepts only SigV4-signed calls of principals granted `execute-api:Invoke`.",
        "",
        *_table(("Role", "Assumed by", "Allowed"), access_rows(resources)),
        "",
        "## Acknowledged cdk-nag findings",
        "",
        "Each finding that is not fixed is acknowledged at its resource, one id at a time, with its evidence.",
        "Per pack: " + ", ".join(f"{pack} {per_pack.get(pack, 0)}" for pack in PACKS) + f"; {len(acknowledgments)} in all.",
        "",
        *_table(("Resource", "Finding", "Why it is safe"), acknowledgments),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    assembly = Path(argv[0]) if argv else Path("cdk.out")
    stack_name = argv[1] if len(argv) > 1 else "LlmAsyncStack"
    if not (assembly / f"{stack_name}.template.json").is_file():
        print(f"no synthesized stack {stack_name} in {assembly}: run scripts/synth.sh first", file=sys.stderr)
        return 1
    sys.stdout.write(render(assembly, stack_name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
