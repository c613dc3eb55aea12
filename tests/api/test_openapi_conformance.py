"""Every answer the service gives, for every route and every kind of error, matches the OpenAPI
document it serves: the status is documented for that operation and the body fits its schema."""
import base64
import re

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

JSON = {"Content-Type": "application/json"}


def test_the_document_is_valid_openapi_3_1(spec):
    validate_spec(spec)
    assert spec["openapi"].startswith("3.1")


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        node = spec_pointer(spec, node["$ref"])
    return node


def spec_pointer(spec, reference):
    node = spec
    for part in reference.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operation_for(spec, path):
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return template, item
    return None, None


def check(spec, method, path, reply):
    """Asserts that `reply` is documented for `method path` and that its body fits the schema."""
    template, item = operation_for(spec, path.split("?")[0])
    assert template is not None, f"{path} answered {reply.status_code} but is not in the document"
    # A wrong method's 405 is documented on the path's own operation.
    documented = item.get(method.lower()) is not None
    operation = item[method.lower()] if documented else next(iter(item.values()))
    if not documented:
        assert reply.status_code == 405, f"{method} {template} is not documented but answered {reply.status_code}"
        method = next(iter(item.keys()))
    responses = operation["responses"]
    assert str(reply.status_code) in responses, (
        f"{method} {template} answered {reply.status_code}, which the document does not list: {reply.text[:200]}")
    response = resolve(spec, responses[str(reply.status_code)])
    media = reply.headers["Content-Type"].split(";")[0]
    assert media in response["content"], f"{method} {template} {reply.status_code} answered {media}"
    schema_node = response["content"][media]["schema"]
    if media != "application/json":
        return
    registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))
    pointer = "#/paths/" + template.replace("~", "~0").replace("/", "~1")
    # Validate through a reference into the document, so that its own $refs resolve.
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": "urn:spec" + locate(spec, schema_node, pointer, responses, str(reply.status_code), media, method)}
    jsonschema.Draft202012Validator(schema, registry=registry,
                                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(reply.json())


def locate(spec, schema_node, pointer, responses, status, media, method):
    """The JSON pointer of the response schema, following a response-level $ref if there is one."""
    entry = responses[status]
    if "$ref" in entry:
        base = entry["$ref"]
    else:
        base = pointer + "/" + method.lower() + "/responses/" + status
    return base + "/content/" + media.replace("/", "~1") + "/schema"


def call(service, method, path, **kwargs):
    return requests.request(method, service + path, timeout=30, **kwargs)


AEAD_KEYS = ["aes-256-gcm", "chacha20-poly1305"]

CASES = [
    ("POST", "/encrypt", {"data": b"ASYNC-OK"}),
    ("POST", "/encrypt", {"json": {"input": "text"}}),
    ("POST", "/encrypt", {"json": {"input_hex": "00ff"}}),
    ("POST", "/encrypt", {"json": {"input_base64": "QVNZTkMtT0s="}}),
    ("POST", "/encrypt", {"json": {"input": "x", "algorithm": "aes-256-gcm", "aad_base64": "AA=="}}),
    ("POST", "/encrypt", {"json": {"batch": [{"input": "a"}, {"input_hex": "zz"}]}}),
    ("POST", "/encrypt", {"data": b"later", "headers": {"Prefer": "respond-async"}}),
    ("POST", "/encrypt", {"data": b""}),
    ("POST", "/encrypt", {"data": b"{", "headers": JSON}),
    ("POST", "/encrypt", {"data": b"\xff\xfe", "headers": JSON}),
    ("POST", "/encrypt", {"json": {}}),
    ("POST", "/encrypt", {"json": {"input": "a", "input_hex": "00"}}),
    ("POST", "/encrypt", {"json": {"input": "a", "algorithm": "rot13"}}),
    ("POST", "/encrypt", {"json": {"input": "a", "algorithm": "aes-256-gcm", "key": "missing"}}),
    ("POST", "/encrypt", {"json": {"batch": []}}),
    ("POST", "/encrypt", {"data": b"x" * 70000}),
    ("POST", "/encrypt?mode=fast", {"data": b"x"}),
    ("GET", "/encrypt", {}),
    ("POST", "/decrypt", {"json": {"input_hex": "00" * 40, "algorithm": "aes-256-gcm"}}),
    ("POST", "/decrypt", {"json": {"input_hex": "00", "algorithm": "chacha20-poly1305"}}),
    ("POST", "/decrypt", {"json": {"input_hex": "e1"}}),
    ("GET", "/jobs", {}),
    ("GET", "/jobs?status=completed&limit=5", {}),
    ("GET", "/jobs?limit=0", {}),
    ("GET", "/jobs?status=done", {}),
    ("POST", "/jobs", {"data": b"x"}),
    ("GET", "/jobs/not-a-uuid", {}),
    ("GET", "/jobs/5f0c8a4e-1b2c-4d3e-8f90-0123456789ab", {}),
    ("GET", "/keys", {}),
    ("GET", "/healthz", {}),
    ("GET", "/readyz", {}),
    ("GET", "/metrics", {}),
    ("GET", "/openapi.yaml", {}),
    ("DELETE", "/keys", {}),
    ("GET", "/stats", {}),
    ("POST", "/stats", {"data": b"x"}),
    ("GET", "/", {}),
    ("GET", "/page/app.js", {}),
    ("GET", "/page/style.css", {}),
    ("GET", "/page/nothing.js", {}),
]


@pytest.mark.parametrize("method,path,kwargs", CASES, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(CASES)])
def test_every_answer_matches_the_document(service, spec, method, path, kwargs):
    reply = call(service, method, path, **kwargs)
    check(spec, method, path, reply)


def test_a_finished_job_and_a_round_trip_match_the_document(service, spec):
    for algorithm in AEAD_KEYS:
        sealed = call(service, "POST", "/encrypt", json={"input": "round trip", "algorithm": algorithm})
        check(spec, "POST", "/encrypt", sealed)
        job = call(service, "GET", "/jobs/" + sealed.json()["id"])
        check(spec, "GET", "/jobs/{id}", job)
        opened = call(service, "POST", "/decrypt", json={"input_hex": sealed.json()["output_hex"], "algorithm": algorithm})
        check(spec, "POST", "/decrypt", opened)
        assert base64.b16decode(opened.json()["output_hex"].upper()) == b"round trip"


def test_an_unknown_path_is_404_with_an_error_body(service):
    reply = call(service, "GET", "/nope")
    assert reply.status_code == 404
    jsonschema.validate(reply.json(), {"type": "object", "required": ["error"],
                                       "properties": {"error": {"required": ["code", "message"]}}})


def test_answers_of_a_service_with_a_token_match_the_document(auth_service, spec):
    from offload_service import TOKEN
    refused = call(auth_service, "GET", "/jobs")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    check(spec, "GET", "/jobs", refused)
    check(spec, "POST", "/encrypt", call(auth_service, "POST", "/encrypt", data=b"x"))
    allowed = call(auth_service, "POST", "/encrypt", data=b"ASYNC-OK", headers={"Authorization": "Bearer " + TOKEN})
    assert allowed.status_code == 200
    check(spec, "POST", "/encrypt", allowed)
    check(spec, "GET", "/healthz", call(auth_service, "GET", "/healthz"))
