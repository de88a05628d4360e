"""The inference API's OpenAPI document, generated from the Lambda's own request rules.

Usage: python -m llm_async_tools.openapi [--engine tgi|vllm] [-o FILE]

Each request shape's fields come from the rule tables the Lambda's parser applies (inference_api.request.shape_rules):
one pydantic model per shape, no field but the table's, each described by what its rule allows and typed by the rule's
JSON Schema where a plain one says it. The routes are declared on a Powertools REST resolver with validation enabled,
which writes the document. The limits are the default configuration's (sandbox, its model preset) on the chosen engine.

The Lambda itself does not validate with these models: its rules express what JSON Schema cannot (TGI's f32 rounding,
serde's nulls, rules across fields, byte limits) with the engine's exact error messages; the document describes them.
docs/openapi/<engine>.json is this output, kept true by tests/api/runtime/test_openapi.py.

The batch API's routes (docs/design/batch-jobs.md, the `batch_jobs.api` handler), which BatchJobs deploys on the same
REST API, are generated with the same resolver into the same `paths`, tagged `batch` (`batch_paths` picks them out):
tests/api/test_openapi_routes.py compares `paths` with the methods InferenceApi and BatchJobs deploy together.
"""

# No `from __future__ import annotations`: the routes' annotations name models built at run time, and Powertools reads
# them from the functions' signatures.

import argparse
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server, ServerVariable
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.types import COMPONENT_REF_TEMPLATE
from pydantic import BaseModel, ConfigDict, Field, RootModel, WithJsonSchema, create_model
from pydantic.json_schema import models_json_schema

from llm_async.environments import DEFAULT_ENV, ENVIRONMENTS, with_engine

# The Lambda's package, `inference_api`, imports itself by that name, as Lambda does from its asset's root.
RUNTIME = Path(__file__).resolve().parent.parent / "llm_async" / "api" / "runtime"
if str(RUNTIME) not in sys.path:
    sys.path.insert(0, str(RUNTIME))

from batch_jobs import records as batch_records  # noqa: E402
from inference_api.gateway import IDEMPOTENCY_HEADER  # noqa: E402
from inference_api.inferences import INFERENCE_ID_LENGTH  # noqa: E402
from inference_api.request import ENGINES, SHAPES, Limits, shape_rules  # noqa: E402
from inference_api.tgi import Check  # noqa: E402

STAGE = "v1"  # the stage InferenceApi deploys (llm_async/api/rest_api.py), the first segment of every URL
SIGV4 = "sigv4"
TITLE = "llm-async inference API"
BATCH_TAG = "batch"
"""The tag of the batch API's routes in `paths` (batch_paths)."""

_SHAPE_TITLES = {
    "chat": ("ChatRequest", 'OpenAI chat completions, {"messages": [...]}'),
    "completions": ("CompletionsRequest", 'OpenAI completions, {"prompt": ...}'),
    "generate": ("GenerateRequest", 'TGI generate, {"inputs": "...", "parameters": {...}}'),
}


def default_limits(engine: str) -> tuple[Limits, str]:
    """The limits the default configuration deploys with `engine`, as InferenceApi hands them to its Lambda, and the
    engine's name and version."""
    config = with_engine(ENVIRONMENTS[DEFAULT_ENV](), engine)
    budget = config.token_budget
    limits = Limits(
        max_body_bytes=config.api.max_body_bytes,
        max_inputs_bytes=config.api.max_inputs_bytes,
        max_input_tokens=config.model.max_input_tokens,
        max_total_tokens=config.model.max_total_tokens,
        default_max_new_tokens=budget.default,
        max_new_tokens=budget.maximum,
    )
    return limits, f"{config.model.serving_engine.label} {config.model.image_version}"


def _model(name: str, doc: str, rules: dict[str, Check], required: dict[str, str], nested: dict[str, Any]) -> type[BaseModel]:
    """A model with exactly the fields of `rules` (others forbidden, as the parser refuses them), `required` ones
    required; a field in `nested` is that model, any other typed by its rule's JSON Schema (any value if it has none)."""
    fields: dict[str, Any] = {}
    for field, check in rules.items():
        annotation = nested.get(field) or Annotated[Any, WithJsonSchema(check.schema or {})]  # type: ignore[attr-defined]
        # An optional field's default is never written: null is refused by some rules, and the rules add defaults.
        default = ... if field in required else None
        description = check.allowed  # type: ignore[attr-defined]
        fields[field] = (annotation, Field(default, description=description, json_schema_extra=_no_default))
    return create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def request_models(engine: str, limits: Limits, label: str) -> dict[str, type[BaseModel]]:
    """One model per request shape, from the rules `engine`'s parser applies with `limits`."""
    models = {}
    for shape, rules in shape_rules(engine, limits).items():
        name, doc = _SHAPE_TITLES[shape]
        nested = {}
        if rules.parameters:
            doc_of_parameters = f"TGI generate's parameters, as {label} takes them"
            nested["parameters"] = _model("GenerateParameters", doc_of_parameters, rules.parameters, {}, {})
        models[shape] = _model(name, f"{doc}, as {label} takes it", rules.fields, rules.required, nested)
    return models


# Responses: the bodies handler.py and inferences.py write. tests/api/runtime/test_openapi.py checks real answers
# against them.
_FORBID = ConfigDict(extra="forbid")
_INFERENCE_ID = Field(description="The inference's id", pattern=f"^[0-9a-f]{{{INFERENCE_ID_LENGTH}}}$")


class Accepted(BaseModel):
    """A submitted inference, queued on the endpoint."""

    model_config = _FORBID
    inferenceId: str = _INFERENCE_ID  # noqa: N815  (the JSON field's name)
    status: Literal["InProgress"]
    outputLocation: str = Field(description="s3:// URI where SageMaker writes the result")  # noqa: N815
    failureLocation: str = Field(description="s3:// URI where SageMaker writes an error")  # noqa: N815


class InProgress(BaseModel):
    """Queued or running."""

    model_config = _FORBID
    inferenceId: str = _INFERENCE_ID  # noqa: N815
    status: Literal["InProgress"]


class Completed(BaseModel):
    """The engine answered."""

    model_config = _FORBID
    inferenceId: str = _INFERENCE_ID  # noqa: N815
    status: Literal["Completed"]
    result: Any = Field(description="The engine's response JSON, unchanged (its text if it is not JSON)")
    text: str | None = Field(description="The generated text, whatever the request shape; null for an unknown result shape")


class Failed(BaseModel):
    """The inference failed, or can no longer produce a result."""

    model_config = _FORBID
    inferenceId: str = _INFERENCE_ID  # noqa: N815
    status: Literal["Failed"]
    failureReason: str = Field(description="The engine's error, or why no result can come any more")  # noqa: N815


class Status(RootModel[Annotated[InProgress | Completed | Failed, Field(discriminator="status")]]):
    """An inference's status, and its result once completed."""


class ErrorDetail(BaseModel):
    model_config = _FORBID
    code: str = Field(description="What went wrong, e.g. InvalidParameter")
    message: str = Field(description="The field and what it must be, e.g. `temperature: must be a number > 0 (got 0)`")


class Error(BaseModel):
    """Every refusal, the Lambda's and API Gateway's own."""

    model_config = _FORBID
    error: ErrorDetail


def _error(description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"model": Error}}}
    if headers:
        response["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return response


_GATEWAY_403 = _error("API Gateway: a request without a valid SigV4 signature, or a caller without execute-api:Invoke")
_GATEWAY_429 = _error("API Gateway: over the stage's throttle (api.throttle_rate_per_s, api.throttle_burst)")
_UNAVAILABLE = _error(
    "ServiceUnavailable: SageMaker or S3 refused or throttled, or a submit with the same Idempotency-Key is in flight",
    **{"Retry-After": "Seconds to wait before retrying (with the same Idempotency-Key)"},
)


RESPONSE_MODELS = (Accepted, Status, Error)


def _declare(method: Callable[..., Any], path: str, parameters: list[inspect.Parameter], **operation: Any) -> None:
    """Declares one of the Lambda's routes on the resolver: `method` is the resolver's (app.get, app.post),
    `operation` the route's OpenAPI fields, `parameters` what Powertools would read off a handler's signature.
    The Lambda answers the routes (inference_api/handler.py, batch_jobs/api.py), so the function Powertools is given
    is never called: it is built here, once, rather than written out route by route as a stub."""

    def never_called(**_: Any) -> None:
        """Never called: the resolver only describes the Lambda's route."""

    never_called.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    method(path, **operation)(never_called)


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _path_parameter(name: str, description: str) -> inspect.Parameter:
    return _parameter(name, Annotated[str, PathParam(description=description)])


def _idempotency_key(description: str) -> inspect.Parameter:
    """The Idempotency-Key header both submits read (handler.py, batch_jobs/api.py), by the same rule."""
    header = Header(alias=IDEMPOTENCY_HEADER, description=description, min_length=1, max_length=64, pattern="^[!-~]+$")
    return _parameter("idempotency_key", Annotated[str | None, header], None)


def build_app(models: dict[str, type[BaseModel]], limits: Limits, label: str) -> APIGatewayRestResolver:
    """The API's routes on a Powertools resolver, with the request `models` of an engine and `limits`."""
    Request = Union[tuple(models[shape] for shape in SHAPES.values())]  # noqa: N806  (a type)
    keys = ", ".join(f'"{key}" ({shape})' for key, shape in SHAPES.items())
    app = APIGatewayRestResolver(enable_validation=True)
    _declare(
        app.post,
        "/invocations",
        [
            _parameter("request", Annotated[Request, Body(description="One of the three request shapes")]),
            _idempotency_key("Submitting again with the same key (and body) answers the same inference, never a second one"),
        ],
        operation_id="submitInference",
        summary="Submit an inference",
        description=(
            f"Checks the request by {label}'s rules, writes it and queues it on the endpoint. Exactly one of {keys} names"
            " the shape. Answers at once; poll the Location for the result."
        ),
        responses={
            202: {
                "description": "Accepted and queued",
                "headers": {"Location": {"description": f"/{STAGE}/invocations/{{inferenceId}}", "schema": {"type": "string"}}},
                "content": {"application/json": {"model": Accepted}},
            },
            400: _error(
                "MalformedJson (not JSON, unpaired surrogates, nesting), InvalidParameter (a field the rules refuse),"
                " InvalidHeader (a malformed Idempotency-Key); InvalidRequest: API Gateway's check that exactly one"
                " shape key is present"
            ),
            403: _GATEWAY_403,
            409: _error("IdempotencyKeyFailed: the first submission with this key never reached the endpoint; use a new key"),
            413: _error(
                f"PayloadTooLarge: the body over {limits.max_body_bytes} bytes, the prompt (all message contents for chat)"
                f" over {limits.max_inputs_bytes} UTF-8 bytes, or the body as the container receives it over its limit"
            ),
            415: _error("UnsupportedMediaType: Content-Type is not application/json"),
            422: _error("IdempotencyKeyReused: an Idempotency-Key reused with another body"),
            429: _GATEWAY_429,
            503: _UNAVAILABLE,
        },
    )
    _declare(
        app.get,
        "/invocations/<inferenceId>",
        [_path_parameter("inferenceId", "The id the submit answered")],
        operation_id="getInference",
        summary="Status and result of an inference",
        description="Only its submitter sees an inference: to any other caller it does not exist (404).",
        responses={
            200: {"description": "Its status; with the result once completed", "content": {"application/json": {"model": Status}}},
            403: _GATEWAY_403,
            404: _error("NotFound: an id this API never accepted, or that another caller submitted"),
            429: _GATEWAY_429,
            503: _UNAVAILABLE,
        },
    )
    return app


# The batch API ---------------------------------------------------------------------------------------------------------
# Its objects are OpenAI's (openai-python src/openai/types/batch.py, batch_error.py, batch_request_counts.py,
# file_object.py); its bodies and answers those of batch_jobs/api.py, whose tests check real answers against them.


@dataclass(frozen=True)
class BatchLimits:
    max_file_bytes: int
    max_lines: int
    completion_windows: tuple[str, ...]


# BatchConfig's defaults (docs/design/batch-jobs.md, "Configuration"), for a configuration without a `batch` section.
def default_batch_limits() -> BatchLimits:
    """The batch limits the default configuration deploys (its `batch` section, BatchConfig)."""
    batch = ENVIRONMENTS[DEFAULT_ENV]().batch
    return BatchLimits(batch.max_file_bytes, batch.max_lines, tuple(batch.completion_windows))


_FILE_ID = Field(description="The file's id", pattern=batch_records.FILE_ID.pattern)
_BATCH_ID = Field(description="The batch's id", pattern=batch_records.BATCH_ID.pattern)
_TIME = "Unix time, in seconds"


class UploadHeaders(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    content_length: str = Field(alias="Content-Length", description="The file's size, as POST /files declared it")
    content_type: Literal["application/jsonl"] = Field(alias="Content-Type")


class Upload(BaseModel):
    """Where to PUT the file's content: a presigned S3 URL, signed with the declared length (S3 refuses any other)."""

    model_config = _FORBID
    url: str = Field(description="A presigned S3 PUT URL (SigV4, X-Amz-SignedHeaders content-length;content-type;host)")
    method: Literal["PUT"]
    headers: UploadHeaders = Field(description="The headers the PUT must send, exactly")
    expires_at: int = Field(description=f"When the URL stops working ({_TIME}); the Lambda's session may end it sooner")


class File(BaseModel):
    """OpenAI's file object: an input file (purpose batch) or a batch's output or error file (purpose batch_output)."""

    model_config = _FORBID
    id: str = _FILE_ID
    object: Literal["file"]
    bytes: int = Field(description="The content's size in bytes")
    created_at: int = Field(description=_TIME)
    filename: str
    purpose: Literal["batch", "batch_output"]


class CreatedFile(File):
    """The new file, and where to upload its content."""

    upload: Upload


class ContentUrl(BaseModel):
    model_config = _FORBID
    url: str = Field(description="A presigned S3 GET URL of the content, also in Location")


class BatchError(BaseModel):
    """An invalid line of the input file (1-based `line`), or the reason a batch failed."""

    model_config = _FORBID
    code: str = Field(description="e.g. invalid_json_line, duplicate_custom_id, invalid_url, invalid_body, too_many_lines")
    message: str = Field(description="The field and what it must be; for a body, the message POST /invocations gives")
    param: str | None = Field(description="The line's field the error is about")
    line: int | None = Field(description="The line's number, from 1; null for the whole file")


class BatchErrors(BaseModel):
    model_config = _FORBID
    object: Literal["list"]
    data: list[BatchError] = Field(description="At most the first 1,000 errors")


class RequestCounts(BaseModel):
    model_config = _FORBID
    total: int
    completed: int
    failed: int = Field(description="Failed, expired and cancelled lines")


def _timestamps() -> dict[str, Any]:
    events = ("in_progress", "expires", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
    return {f"{event}_at": (int | None, Field(description=f"{_TIME}, or null")) for event in events}


def batch_models(limits: BatchLimits) -> dict[str, type[BaseModel]]:
    """The batch API's request bodies and answers, with the default configuration's `limits`."""
    windows = Literal[limits.completion_windows]  # type: ignore[valid-type]
    endpoints = Literal[batch_records.ENDPOINTS]  # type: ignore[valid-type]
    metadata = Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[str, Field(max_length=512)]] | None,
        Field(description="At most 16 keys of up to 64 characters, string values of up to 512", max_length=16),
    ]
    file_request = create_model(
        "FileRequest",
        __config__=_FORBID,
        __doc__="A new input file: its name and size (the content is uploaded to the URL answered)",
        purpose=(Literal["batch"], ...),
        filename=(str, Field(min_length=1, max_length=255)),
        bytes=(int, Field(ge=1, le=limits.max_file_bytes, description=f"The content's size: at most {limits.max_file_bytes}")),
    )
    batch_request = create_model(
        "BatchRequest",
        __config__=_FORBID,
        __doc__=(
            f"A batch of the input file's lines (JSONL, at most {limits.max_lines} lines): each a JSON object with exactly"
            ' custom_id (1–512 characters, unique), method "POST", url (the endpoint) and body (a request of the'
            " endpoint's shape, checked as POST /invocations checks it)"
        ),
        input_file_id=(str, _FILE_ID),
        endpoint=(endpoints, Field(description="Every line's url, and its body's shape: chat completions or completions")),
        completion_window=(windows, Field(description="Lines not done within it are reported expired")),
        metadata=(metadata, None),
    )
    batch = create_model(
        "Batch",
        __config__=_FORBID,
        __doc__="OpenAI's batch object",
        id=(str, _BATCH_ID),
        object=(Literal["batch"], ...),
        endpoint=(endpoints, ...),
        errors=(BatchErrors | None, Field(description="Why the batch failed: its invalid lines, or an internal error")),
        input_file_id=(str, _FILE_ID),
        completion_window=(str, ...),
        status=(Literal[batch_records.STATUSES], ...),  # type: ignore[valid-type]
        output_file_id=(str | None, Field(description="The file of the lines' results, once finished")),
        error_file_id=(str | None, Field(description="The file of the lines that failed, expired or were cancelled")),
        created_at=(int, Field(description=_TIME)),
        **_timestamps(),
        request_counts=(RequestCounts, ...),
        metadata=(metadata, ...),
    )
    batch_list = create_model(
        "BatchList",
        __config__=_FORBID,
        __doc__="The caller's batches, newest first",
        object=(Literal["list"], ...),
        data=(list[batch], ...),  # type: ignore[valid-type]
        first_id=(str | None, ...),
        last_id=(str | None, ...),
        has_more=(bool, ...),
    )
    return {"FileRequest": file_request, "BatchRequest": batch_request, "Batch": batch, "BatchList": batch_list}


BATCH_RESPONSE_MODELS = (CreatedFile, ContentUrl)


def add_batch_routes(app: APIGatewayRestResolver, models: dict[str, type[BaseModel]], limits: BatchLimits) -> None:
    """The batch API's six routes (batch_jobs/api.py), tagged BATCH_TAG."""
    FileRequest, BatchRequest, Batch, BatchList = (models[name] for name in ("FileRequest", "BatchRequest", "Batch", "BatchList"))  # noqa: N806
    batch_answer = {"description": "The batch", "content": {"application/json": {"model": Batch}}}
    not_found = _error("NotFound: an id this API never issued, or another caller's (never 403: no existence oracle)")
    gateway = {403: _GATEWAY_403, 429: _GATEWAY_429, 503: _error("ServiceUnavailable: S3 or Step Functions refused or throttled",
                                                                 **{"Retry-After": "Seconds to wait before retrying"})}  # fmt: skip
    bad_input = _error("InvalidParameter (a field and what it allows), MalformedJson (not a JSON object)")

    # Every batch route: its operation, the API Gateway answers all of them share (after the route's own), its tag.
    def route(method: Callable[..., Any], path: str, parameters: list[inspect.Parameter], operation_id: str, summary: str,
              description: str, responses: dict[int, Any]) -> None:  # fmt: skip
        _declare(method, path, parameters, operation_id=operation_id, summary=summary, description=description,
                 tags=[BATCH_TAG], responses={**responses, **gateway})  # fmt: skip

    route(app.post, "/files", [_parameter("request", Annotated[FileRequest, Body(description="The file's name and size")])],
          "createFile", "Create an input file",
          "Records the file and answers a presigned S3 PUT signed with its size: the content (JSONL, up to"
          f" {limits.max_file_bytes} bytes) goes straight to S3, never through the API.",
          {200: {"description": "The file, and where to upload it", "content": {"application/json": {"model": CreatedFile}}},
           400: bad_input})  # fmt: skip
    route(app.get, "/files/<file_id>/content", [_path_parameter("file_id", "The file's id")],
          "getFileContent", "Download a file's content",
          "Redirects to a presigned S3 GET: an output file may be larger than API Gateway answers.",
          {303: {"description": "The content's presigned URL",
                 "headers": {"Location": {"description": "The presigned GET URL", "schema": {"type": "string"}}},
                 "content": {"application/json": {"model": ContentUrl}}},
           404: not_found, 409: _error("FileNotUploaded: the content was never uploaded")})  # fmt: skip
    route(app.post, "/batches",
          [_parameter("request", Annotated[BatchRequest, Body(description="The input file, its endpoint and completion window")]),
           _idempotency_key("The same key (and body) answers the same batch, never a second one")],
          "createBatch", "Create a batch",
          "Starts the batch: every line is validated before any is invoked; an invalid file fails the batch with its"
          " lines' errors. Answers the batch, validating.",
          {200: batch_answer,
           400: _error("InvalidParameter (a field and what it allows; an input file without content or of another"
                       " purpose), MalformedJson, InvalidHeader (a malformed Idempotency-Key)"),
           404: _error("NotFound: the input file is unknown or another caller's"),
           422: _error("IdempotencyKeyReused: an Idempotency-Key reused with another body")})  # fmt: skip
    route(app.get, "/batches",
          [_parameter("limit", Annotated[int, Query(ge=1, le=100, description="How many batches (default 20)")], 20),
           _parameter("after", Annotated[str | None, Query(description="The last id of the previous page")], None)],
          "listBatches", "List your batches", "The caller's own batches, newest first (by second of creation).",
          {200: {"description": "A page of batches", "content": {"application/json": {"model": BatchList}}},
           400: _error("InvalidParameter: limit outside 1–100, or after not one of the caller's batches")})  # fmt: skip
    route(app.get, "/batches/<batch_id>", [_path_parameter("batch_id", "The batch's id")], "getBatch", "A batch's status",
          "Its status and counts (while running, counted as lines finish); the output and error files once done.",
          {200: batch_answer, 404: not_found})  # fmt: skip
    route(app.post, "/batches/<batch_id>/cancel", [_path_parameter("batch_id", "The batch's id")], "cancelBatch", "Cancel a batch",
          "Stops submitting its lines: the batch is cancelling, then cancelled with what finished.",
          {200: batch_answer, 404: not_found, 409: _error("NotCancellable: the batch is finalizing or finished")})  # fmt: skip


def batch_paths(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's batch routes: the paths whose every operation is tagged `batch`."""
    return {path: item for path, item in doc["paths"].items() if all(BATCH_TAG in op.get("tags", []) for op in item.values())}


def document(engine: str = "tgi") -> dict[str, Any]:
    """The OpenAPI document of the API serving `engine`, with the default configuration's limits."""
    limits, label = default_limits(engine)
    models = request_models(engine, limits, label)
    app = build_app(models, limits, label)
    batch_limits = default_batch_limits()
    batch = batch_models(batch_limits)
    add_batch_routes(app, batch, batch_limits)
    description = (
        f"Asynchronous inference on a SageMaker endpoint serving {label}. Generated from the Lambda's request rules"
        f" (python -m llm_async_tools.openapi --engine {engine}) with the default configuration's limits: body ≤"
        f" {limits.max_body_bytes} bytes, prompt ≤ {limits.max_inputs_bytes} UTF-8 bytes, MAX_INPUT_TOKENS"
        f" {limits.max_input_tokens}, MAX_TOTAL_TOKENS {limits.max_total_tokens}, a token budget of at most"
        f" {limits.max_new_tokens} ({limits.default_max_new_tokens} when a request names none). The schemas name every"
        " field and its type; what a field allows is in its description, and rules across fields, f32 rounding and byte"
        " limits are the Lambda's alone: docs/request-contract.md. The batch API (OpenAI's Batch API: files, batches)"
        f" is tagged {BATCH_TAG}: input files of at most {batch_limits.max_lines} lines and"
        f" {batch_limits.max_file_bytes} bytes, completion windows {', '.join(batch_limits.completion_windows)}."
    )
    text = app.get_openapi_json_schema(
        title=TITLE,
        version=STAGE,
        description=description,
        servers=[
            Server(
                url=f"https://{{restApiId}}.execute-api.{{region}}.amazonaws.com/{STAGE}",
                description="The stack's ApiUrl output",
                variables={
                    "restApiId": ServerVariable(default="restApiId", description="The REST API's id"),
                    "region": ServerVariable(default="us-east-1", description="The stack's region"),
                },
            )
        ],
        security_schemes={
            SIGV4: APIKey(
                name="Authorization",
                in_=APIKeyIn.header,
                description="AWS Signature Version 4 (service execute-api): every method uses IAM authorization",
                **{"x-amazon-apigateway-authtype": "awsSigv4"},
            )
        },
        security=[{SIGV4: []}],
    )
    doc = json.loads(text)
    _without_powertools_validation_errors(doc)
    # Powertools reads every schema back into its own model, whose bounds are floats: 2^64 − 1 would be written as
    # 1.8446744073709552e+19. The component schemas are written as pydantic generates them, with exact integers.
    every_model = [(model, "validation") for model in (*models.values(), *RESPONSE_MODELS, *batch.values(), *BATCH_RESPONSE_MODELS)]
    _, exact = models_json_schema(every_model, ref_template=COMPONENT_REF_TEMPLATE)
    schemas = doc["components"]["schemas"]
    if set(schemas) != set(exact["$defs"]):
        raise AssertionError(f"Powertools' schemas {sorted(schemas)} are not the models' {sorted(exact['$defs'])}")
    doc["components"]["schemas"] = exact["$defs"]
    return doc


def _without_powertools_validation_errors(doc: dict[str, Any]) -> None:
    """Powertools documents its own validation's 422 answer on every route, and its schemas; the Lambda does not
    validate with Powertools, and answers 422 only for a reused Idempotency-Key (declared with the other errors)."""
    for operation in (operation for path in doc["paths"].values() for operation in path.values()):
        responses = {
            status: answer for status, answer in operation["responses"].items() if "HTTPValidationError" not in json.dumps(answer)
        }
        # In status order (Powertools puts its 422 first, and a declared 422 keeps that place).
        operation["responses"] = dict(sorted(responses.items(), key=lambda item: int(item[0])))
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        doc["components"]["schemas"].pop(name, None)


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_async_tools.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=ENGINES, default="tgi", help="the engine whose request rules apply (default: tgi)")
    parser.add_argument("-o", "--output", type=Path, help="write the document here (default: standard output)")
    args = parser.parse_args(argv)
    text = render(document(args.engine))
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
