"""A real offload-http (the debug build) on a free port, shared by the API tests."""
import os
import re
import subprocess
import tempfile
import time

import pytest
import requests
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("OFFLOAD_BINARY", os.path.join(ROOT, ".build", "debug", "offload-http"))


def start(arguments):
    """Starts the binary on a free port; returns the process and its base URL."""
    # The log goes to a file, not a pipe: a pipe nobody reads would fill and stall the server.
    log_file = tempfile.NamedTemporaryFile(prefix="offload-http-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [BINARY, "--host", "127.0.0.1", "--port", "0", "--device-latency", "1ms", "--max-body", "64KiB", *arguments],
        stdout=log_file, stderr=subprocess.STDOUT)
    port = None
    deadline = time.time() + 30
    while port is None and time.time() < deadline and process.poll() is None:
        with open(log_file.name) as log:
            match = re.search(r"port=(\d+)", log.read())
        if match:
            port = int(match.group(1))
        else:
            time.sleep(0.05)
    if port is None:
        process.kill()
        with open(log_file.name) as log:
            pytest.fail(f"offload-http did not start: {log.read()}")
    return process, f"http://127.0.0.1:{port}"


def stop(process):
    process.terminate()
    assert process.wait(timeout=30) == 0, "offload-http did not exit cleanly"


@pytest.fixture(scope="session")
def service():
    if not os.path.exists(BINARY):
        pytest.fail(f"no binary at {BINARY}: run swift build first (make test does)")
    process, base = start([])
    try:
        yield base
    finally:
        stop(process)


TOKEN = "conformance-token-0123456789"


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
