"""A real offload-http (the debug build) on a free port, shared by the API tests."""
import os
import sys

import pytest
import requests
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from offload_service import BINARY, TOKEN, start, stop  # noqa: E402


@pytest.fixture(scope="session")
def service():
    if not os.path.exists(BINARY):
        pytest.fail(f"no binary at {BINARY}: run swift build first (make test does)")
    process, base = start([])
    try:
        yield base
    finally:
        stop(process)


@pytest.fixture(scope="session")
def auth_service(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("auth") / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    process, base = start(["--auth-token-file", str(token_file)])
    try:
        yield base
    finally:
        stop(process)


@pytest.fixture(scope="session")
def spec(service):
    reply = requests.get(service + "/openapi.yaml", timeout=10)
    assert reply.status_code == 200
    return yaml.safe_load(reply.text)
