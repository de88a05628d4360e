"""The contract between the batch construct and its Lambdas (the API, the state machine's steps, the tracker): their
environment and custom metrics (docs/design/batch-jobs.md, "Environment of the batch Lambdas").

One definition of every variable, as in `inference_api.contract`: the construct renders it (`render`), the handlers
parse it (`from_environ`). The fields and variables the inference API's Lambda has too (the endpoint, the request
limits, the metrics' namespace and service) are `inference_api.contract`'s own, imported. Standard library only
besides: the construct imports this module too.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass

# Lambda (and the handler tests) import this module as `batch_jobs.contract`, its sibling by its top-level name; the
# construct as `llm_async.api.runtime.batch_jobs.contract`, where the sibling is importable only by its full name.
if __package__ == "batch_jobs":
    from inference_api.contract import VARIABLES as _SHARED_VARIABLES
    from inference_api.contract import ContractError, EndpointSettings, RequestLimits, _int
else:
    from llm_async.api.runtime.inference_api.contract import VARIABLES as _SHARED_VARIABLES
    from llm_async.api.runtime.inference_api.contract import ContractError, EndpointSettings, RequestLimits, _int

SERVICE_NAME = "llm-async-batch"
"""Powertools' service: the `service` dimension of the custom metrics and a key of every log line."""

# The custom metrics (Powertools EMF, unit Count, dimension service=SERVICE_NAME) in the deployment's namespace.
BATCHES_CREATED = "BatchesCreated"
"""POST /batches started a batch's state machine."""
BATCH_REQUESTS_REJECTED = "BatchRequestsRejected"
"""A 4xx of the batch API: bad input, another caller's or an unknown id, a batch that can no longer be cancelled."""
BATCH_LINES_SUBMITTED = "BatchLinesSubmitted"
"""A batch line queued on the endpoint by SubmitChunk."""
BATCH_SUBMISSIONS_THROTTLED = "BatchSubmissionsThrottled"
"""SubmitChunk met SageMaker or S3 throttling (or a 5xx) and raised `Throttled` for the state to retry."""
BATCH_LINES_COMPLETED = "BatchLinesCompleted"
"""The tracker recorded a batch line's result."""
BATCH_LINES_FAILED = "BatchLinesFailed"
"""The tracker recorded a batch line's failure."""
BATCHES_FINISHED = "BatchesFinished"
"""Finalize, Validate (an invalid file) or MarkFailed brought a batch to a terminal status."""
CUSTOM_METRICS = (
    BATCHES_CREATED,
    BATCH_REQUESTS_REJECTED,
    BATCH_LINES_SUBMITTED,
    BATCH_SUBMISSIONS_THROTTLED,
    BATCH_LINES_COMPLETED,
    BATCH_LINES_FAILED,
    BATCHES_FINISHED,
)

ENGINES = ("tgi", "vllm")
"""inference_api.request.ENGINES: the engines whose request rules the lines are checked by."""
_WINDOW = re.compile(r"^[1-9][0-9]*h$")


# The endpoint's fields, then the limits (dataclasses put the last base's first), then the batch's own.
@dataclass(frozen=True, kw_only=True)
class BatchEnvironment(RequestLimits, EndpointSettings):
    """What every batch Lambda reads (the API adds `state_machine_arn`: `BatchApiEnvironment`). `engine` names whose
    request rules every line's body is checked by; `bucket_name` holds files/, batches/ and the lines' input/ objects;
    `wake_alarm_name` is the alarm the Wake step sets to ALARM
    (inference_api.wake.Waker); the TTL and timeout are those of every line's InvokeEndpointAsync."""

    max_file_bytes: int
    """batch.max_file_bytes: the largest input file POST /files signs an upload for and Validate reads."""
    max_lines: int
    """batch.max_lines: the most lines an input file may have."""
    completion_windows: tuple[str, ...]
    """batch.completion_windows: the `completion_window` values POST /batches takes, each `<hours>h`."""
    metrics_namespace: str
    """The deployment's own CloudWatch namespace for CUSTOM_METRICS."""
    service_name: str = SERVICE_NAME

    def __post_init__(self) -> None:
        if not self.completion_windows:
            raise ContractError("COMPLETION_WINDOWS must name at least one window")
        for window in self.completion_windows:
            if not _WINDOW.match(window):
                raise ContractError(f"COMPLETION_WINDOWS: each window must be <hours>h, e.g. 24h (got {window!r})")

    def render(self) -> dict[str, str]:
        """The Lambda's environment variables (values may be CDK tokens)."""
        return {VARIABLES[f.name]: _text(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> typing.Self:
        types = typing.get_type_hints(cls)
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            name = VARIABLES[field.name]
            if name not in environ:
                if field.default is not dataclasses.MISSING:
                    continue
                raise ContractError(f"environment variable {name} is not set")
            text = environ[name]
            if types[field.name] is int:
                values[field.name] = _int(name, text)
            elif types[field.name] == tuple[str, ...]:
                values[field.name] = tuple(part.strip() for part in text.split(",") if part.strip())
            else:
                values[field.name] = text
        if values["engine"] not in ENGINES:
            raise ContractError(f"environment variable ENGINE must be one of {', '.join(ENGINES)} (got {values['engine']!r})")
        return cls(**values)  # type: ignore[arg-type]

    def window_seconds(self, window: str) -> int:
        """A completion window's length: `24h` → 86,400 s."""
        return int(window.removesuffix("h")) * 3600


@dataclass(frozen=True, kw_only=True)
class BatchApiEnvironment(BatchEnvironment):
    """The batch API Lambda's environment: every batch Lambda's, and the state machine it starts."""

    state_machine_arn: str


VARIABLES = {
    **_SHARED_VARIABLES,
    "state_machine_arn": "STATE_MACHINE_ARN",
    "max_file_bytes": "MAX_FILE_BYTES",
    "max_lines": "MAX_LINES",
    "completion_windows": "COMPLETION_WINDOWS",
}
"""Field → environment variable name."""


def _text(value: object) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)
