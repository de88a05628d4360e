"""A template value as one string, for comparing names and ARNs CDK joins from pseudo parameters and attributes.

`{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b"]]}` → `arn:${AWS::Partition}:s3:::b`; CDK merges
adjacent literals differently depending on how a value was built, so the joined string is what tests compare.
"""

from __future__ import annotations

from typing import Any


def rendered(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(rendered(part) for part in parts)
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{'.'.join(argument)}}}"
    raise ValueError(f"not a string, Fn::Join, Ref or Fn::GetAtt: {value!r}")
