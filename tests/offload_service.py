"""Starts and stops the real offload-http (the debug build) for the Python tests."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The bearer token of the services started with one.
TOKEN = "conformance-token-0123456789"
BINARY = os.environ.get("OFFLOAD_BINARY", os.path.join(ROOT, ".build", "debug", "offload-http"))


def start(arguments, port=0):
    """Starts the binary on `port` (0: a free one); returns the process and its base URL."""
    # The log goes to a file, not a pipe: a pipe nobody reads would fill and stall the server.
    log_file = tempfile.NamedTemporaryFile(prefix="offload-http-", suffix=".log", delete=False)
    # The default store (an SQLite file under $XDG_STATE_HOME), of its own for each service:
    # the jobs of one test must not show in the next.
    state = tempfile.mkdtemp(prefix="offload-http-state-")
    process = subprocess.Popen(
        [BINARY, "--host", "127.0.0.1", "--port", str(port), "--device-latency", "1ms", "--max-body", "64KiB", *arguments],
        stdout=log_file, stderr=subprocess.STDOUT, env=dict(os.environ, XDG_STATE_HOME=state, OFFLOAD_DRAIN_DELAY="0s"))
    process.state_directory = state
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
    try:
        assert process.wait(timeout=30) == 0, "offload-http did not exit cleanly"
    finally:
        shutil.rmtree(process.state_directory, ignore_errors=True)
