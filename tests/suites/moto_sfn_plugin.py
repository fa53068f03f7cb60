"""A pytest plugin that runs moto's own Step Functions tests (from moto's
source distribution, unmodified) against Sluice: each test gets a fresh
`sluice serve` (SLUICE_BIN, a new store) as its Step Functions endpoint,
through moto's server mode (TEST_SERVER_MODE; its decorators read the
endpoint when the test modules are imported, so every test's server
listens on the same loopback port, chosen at start-up), and every other
AWS service the tests call (IAM, STS, Lambda, KMS, …) goes to one
moto_server. Loaded by scripts/sfn-suite.sh with `-p moto_sfn_plugin`."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3
import pytest


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(url, proc, what):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
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
    _wait(f"http://127.0.0.1:{port}/healthz", proc, "sluice serve")
    real_client = boto3.client

    def client(*args, **kwargs):
        service = kwargs.get("service_name", args[0] if args else None)
        if service != "stepfunctions":
            kwargs["endpoint_url"] = f"http://{_moto_server}"
        return real_client(*args, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    # The parser tests switch moto's own execution on through this address.
    try:
        import tests.test_stepfunctions.parser as parser
        monkeypatch.setattr(parser, "base_url", _moto_server)
    except ImportError:
        pass
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
