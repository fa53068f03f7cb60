"""What the AWS client scripts share: the endpoint, the expected-error
check and the runner (each test_* function of a script, one line each,
exit 1 naming the ones that failed)."""

import os
import sys
import traceback
import urllib.request
import json

from botocore.exceptions import ClientError

ENDPOINT = os.environ["SLUICE_ENDPOINT"]


def expect(error, fn, *args, **kw):
    """Calls fn and checks that it fails with the AWS error code `error`."""
    try:
        fn(*args, **kw)
    except ClientError as e:
        code = e.response["Error"]["Code"]
        assert code == error, f"expected {error}, got {code}: {e}"
        return e
    raise AssertionError(f"expected {error}, the call succeeded")


def rest(path):
    """GET of Sluice's own REST API."""
    with urllib.request.urlopen(f"{ENDPOINT}{path}") as r:
        return json.load(r)


def run(namespace):
    failed = []
    for name, fn in list(namespace.items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print(f"ok   {name}")
            except Exception:
                failed.append(name)
                print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"{len(failed)} failed: {failed}" if failed else "all passed")
    sys.exit(1 if failed else 0)
