"""The OpenAPI document as a file (Sources/OffloadHTTP/openapi.yaml, embedded in the binary),
checked without a server: valid OpenAPI 3.1, every operation tagged, and every object schema a
named component, so that generated clients get readable type names."""
import os

import yaml
from openapi_spec_validator import validate as validate_spec

DOCUMENT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "Sources", "OffloadHTTP", "openapi.yaml")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def load():
    with open(DOCUMENT) as file:
        return yaml.safe_load(file)


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def inline_objects(node, where):
    """Object schemas written in place under `node` (an operation), with where they are."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield where
        for key, value in node.items():
            yield from inline_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from inline_objects(value, f"{where}/{index}")


def test_the_file_is_valid_openapi_3_1():
    spec = load()
    validate_spec(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_operation_has_a_declared_tag_and_a_unique_id():
    spec = load()
    declared = {tag["name"] for tag in spec["tags"]}
    ids = []
    for name, operation in operations(spec):
        assert operation.get("tags"), f"{name} has no tag"
        assert set(operation["tags"]) <= declared, f"{name} uses an undeclared tag"
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_operations_and_shared_responses_use_named_schemas():
    spec = load()
    found = []
    for name, operation in operations(spec):
        found += inline_objects(operation, name)
    for name, body in spec["components"]["requestBodies"].items():
        found += inline_objects(body, f"requestBodies/{name}")
    for name, response in spec["components"]["responses"].items():
        found += inline_objects(response, f"responses/{name}")
    assert found == [], "object schemas written in place (make them components/schemas): " + ", ".join(found)


def test_a_failed_job_is_read_as_a_job_before_an_error():
    """Clients generated from the document try oneOf in order: a failed job (which carries an
    error too) must be tried as a Job first, or its id is lost."""
    spec = load()
    for name, response in spec["components"]["responses"].items():
        for media in response.get("content", {}).values():
            refs = [option.get("$ref", "") for option in media["schema"].get("oneOf", [])]
            if "#/components/schemas/Job" in refs and "#/components/schemas/Error" in refs:
                assert refs.index("#/components/schemas/Job") < refs.index("#/components/schemas/Error"), name
