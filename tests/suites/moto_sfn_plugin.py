"""A pytest plugin that runs moto's own Step Functions tests (from moto's
source distribution, unmodified) against Sluice: each test gets a fresh
`sluice serve` (SLUICE_BIN, a new store) as its Step Functions and Lambda
endpoint, through moto's server mode (TEST_SERVER_MODE; its decorators
read the endpoint when the test modules are imported, so every test's
server listens on the same loopback port, chosen at start-up), and every
other AWS service the tests call (IAM, STS, DynamoDB, SNS, …) goes to one
moto_server. Loaded by scripts/sfn-suite.sh with `-p moto_sfn_plugin`."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import pytest


# What Sluice answers itself: Step Functions, and Lambda (so that the
# functions the tests create are the ones their state machines call).
SLUICE_SERVICES = ("stepfunctions", "lambda")


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(url, proc, what, ready=lambda status: True):
    for _ in range(400):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError as e:
            if ready(e.code):
                return  # it answers
            time.sleep(0.05)
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}")
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer in time")


# moto reads these when it is first imported: before the test modules are.
os.environ["TEST_SERVER_MODE"] = "true"
os.environ["MOTO_CALL_RESET_API"] = "false"
os.environ["TEST_SERVER_MODE_ENDPOINT"] = f"http://127.0.0.1:{_free_port()}"


@pytest.fixture(scope="session")
def _moto_server():
    port = _free_port()
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _wait(f"http://127.0.0.1:{port}/moto-api/", proc, "moto_server")
    yield f"127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


@pytest.fixture(autouse=True)
def _sluice(_moto_server, monkeypatch):
    data = tempfile.mkdtemp(prefix="sluice-sfn-suite-")
    endpoint = os.environ["TEST_SERVER_MODE_ENDPOINT"]
    port = endpoint.rsplit(":", 1)[1]
    log = open(os.path.join(data, "serve.log"), "wb")
    proc = subprocess.Popen([os.environ["SLUICE_BIN"], "serve", "--data", os.path.join(data, "store"),
                             "--listen", f"127.0.0.1:{port}", "--durability", "process"],
                            stdout=log, stderr=log, start_new_session=True)
    # Ready once /healthz says 200 (it answers 503 while the store opens).
    _wait(f"http://127.0.0.1:{port}/healthz", proc, "sluice serve", ready=lambda status: False)
    real_client = boto3.client

    def client(*args, **kwargs):
        service = kwargs.get("service_name", args[0] if args else None)
        if service not in SLUICE_SERVICES:
            kwargs["endpoint_url"] = f"http://{_moto_server}"
        return real_client(*args, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    # The parser tests switch moto's own execution on through this
    # address (each module holds its own copy of it).
    for name, module in list(sys.modules.items()):
        if name.startswith("tests.test_stepfunctions") and hasattr(module, "base_url"):
            monkeypatch.setattr(module, "base_url", _moto_server)
    yield
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    shutil.rmtree(data, ignore_errors=True)
    # The next test's server binds the same port.
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", int(port))) != 0:
                break
        time.sleep(0.02)
