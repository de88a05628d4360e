"""The OpenAPI documents' routes (docs/openapi/<engine>.json) are the API's: the methods InferenceApi and the batch jobs'
routes (BatchJobs, on the same REST API) deploy in a bare stack, and the routes the inference Lambda's handler registers;
with SigV4 on every method, under the deployed stage. The batch routes are in `paths` too, tagged `batch`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

import tests.api.runtime.conftest  # noqa: F401  (the Lambda's environment, set before the handler is imported below)
from llm_async_tools.openapi import ENGINES, batch_paths
from tests.conftest import ROOT
from tests.constructs import Parts, bare_stack, template

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def deployed() -> Template:
    """InferenceApi and the batch jobs' routes of the default configuration, synthesized once for the module."""
    stack = bare_stack()
    Parts(stack).batch  # built for its resources, with the inference API it adds its routes to
    return template(stack)


def _document(engine: str) -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi" / f"{engine}.json").read_text(encoding="utf-8"))


def _paths(engine: str, *, batch: bool = True) -> dict[str, Any]:
    """The document's paths: the inference API's and, unless `batch` is false, the batch API's."""
    document = _document(engine)
    left_out = {} if batch else batch_paths(document)
    return {path: item for path, item in document["paths"].items() if path not in left_out}


def _documented(engine: str, *, batch: bool = True) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in _paths(engine, batch=batch).items() for method in item if method in _METHODS}


def _deployed_methods(deployed: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """Each method's properties by its full path (resource path parts from the root) and HTTP method."""
    resources = deployed.find_resources("AWS::ApiGateway::Resource")

    def path(resource_id: dict[str, Any]) -> str:
        if "Ref" not in resource_id:  # Fn::GetAtt RestApi.RootResourceId
            return ""
        resource = resources[resource_id["Ref"]]["Properties"]
        return f"{path(resource['ParentId'])}/{resource['PathPart']}"

    methods = deployed.find_resources("AWS::ApiGateway::Method").values()
    return {(path(m["Properties"]["ResourceId"]) or "/", m["Properties"]["HttpMethod"]): m["Properties"] for m in methods}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_documented_routes_are_the_deployed_methods(deployed: Template, engine: str) -> None:
    assert _documented(engine) == set(_deployed_methods(deployed))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_documented_routes_are_the_handlers(engine: str) -> None:
    from inference_api.handler import app  # after the Lambda's environment (tests/api/runtime/conftest.py)

    # Powertools 3.37.0 keeps the registered routes in these two lists. The handler names the path parameter
    # inference_id, API Gateway (and so the document) inferenceId: routes compare with their parameters unnamed.
    registered = {(route.openapi_path, route.method) for route in (*app._static_routes, *app._dynamic_routes)}

    def unnamed(routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(re.sub(r"\{[^}]+\}", "{}", path), method) for path, method in routes}

    # The inference handler's: the batch routes are batch_jobs.api's (tests/api/runtime/batch/test_openapi_batch.py).
    assert unnamed(_documented(engine, batch=False)) == unnamed(registered)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_documented_path_parameters_are_the_deployed_ones(deployed: Template, engine: str) -> None:
    deployed_parameters = {
        (path, method): sorted(name.removeprefix("method.request.path.") for name in properties.get("RequestParameters", {}))
        for (path, method), properties in _deployed_methods(deployed).items()
    }
    documented = {
        (path, method.upper()): sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "path")
        for path, item in _paths(engine).items()
        for method, operation in item.items()
    }
    deployed_path_parameters = {
        route: [name for name in names if not name.startswith("method.request.querystring.")]
        for route, names in deployed_parameters.items()
    }
    assert documented == deployed_path_parameters


@pytest.mark.parametrize("engine", ENGINES)
def test_the_documented_query_strings_are_the_deployed_optional_ones(deployed: Template, engine: str) -> None:
    deployed_queries = {
        route: {name.removeprefix("method.request.querystring."): required for name, required in properties.get("RequestParameters", {}).items()
                if name.startswith("method.request.querystring.")}
        for route, properties in _deployed_methods(deployed).items()
    }  # fmt: skip
    documented = {
        (path, method.upper()): {p["name"]: p.get("required", False) for p in operation.get("parameters", []) if p["in"] == "query"}
        for path, item in _paths(engine).items()
        for method, operation in item.items()
    }
    assert documented == deployed_queries
    assert documented[("/batches", "GET")] == {"limit": False, "after": False}


@pytest.mark.parametrize("engine", ENGINES)
def test_every_method_requires_sigv4_as_documented(deployed: Template, engine: str) -> None:
    doc = _document(engine)
    (requirement,) = doc["security"]
    (scheme_name,) = requirement
    scheme = doc["components"]["securitySchemes"][scheme_name]
    assert (scheme["type"], scheme["in"], scheme["name"], scheme["x-amazon-apigateway-authtype"]) == (
        "apiKey", "header", "Authorization", "awsSigv4",
    )
    assert {m["AuthorizationType"] for m in _deployed_methods(deployed).values()} == {"AWS_IAM"}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_documented_server_is_the_deployed_stage(deployed: Template, engine: str) -> None:
    (stage,) = deployed.find_resources("AWS::ApiGateway::Stage").values()
    (server,) = _document(engine)["servers"]
    assert server["url"] == f"https://{{restApiId}}.execute-api.{{region}}.amazonaws.com/{stage['Properties']['StageName']}"
