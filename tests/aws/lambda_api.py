"""Lambda's own client against Sluice: boto3 (and the AWS CLI) with
endpoint_url pointed at a `sluice serve` (SLUICE_ENDPOINT): a Python
function created from a zip runs under the real runtime interface client,
is invoked synchronously, asynchronously and as a Step Functions Task,
and gets new configuration, code, versions and aliases. Run by
tests/aws_protocols.rs."""

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
from harness import ENDPOINT, expect, rest, run

REGION = "eu-west-1"
lam = boto3.client("lambda", endpoint_url=ENDPOINT, region_name=REGION)
sfn = boto3.client("stepfunctions", endpoint_url=ENDPOINT, region_name=REGION)
ROLE = "arn:aws:iam::000000000000:role/anything"

APP = """import os
def handler(event, context):
    print('handling', json_dumps(event), flush=True)
    if event.get('fail'):
        raise ValueError('bad: ' + str(event['fail']))
    return {'got': event, 'mode': os.environ.get('MODE'), 'mark': MARK}
import json
json_dumps = json.dumps
"""


def code(mark):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", APP + f"MARK = {mark!r}\n")
    return buf.getvalue()



def call(name, payload, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload), **kw)
    return r, json.loads(r["Payload"].read() or b"null")



def test_create_invoke_update_and_version():
    created = lam.create_function(FunctionName="py-echo", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": code("v1")}, Timeout=10, MemorySize=256,
                                  Environment={"Variables": {"MODE": "one"}})
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:000000000000:function:py-echo", created
    assert (created["Runtime"], created["Handler"], created["MemorySize"], created["Timeout"]) == ("python3.12", "app.handler", 256, 10), created
    assert created["State"] == "Active" and created["CodeSha256"], created
    expect("ResourceConflictException", lam.create_function, FunctionName="py-echo", Runtime="python3.12", Role=ROLE,
           Handler="app.handler", Code={"ZipFile": code("v1")})
    r, out = call("py-echo", {"a": 1})
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r
    assert out == {"got": {"a": 1}, "mode": "one", "mark": "v1"}, out
    assert r["ExecutedVersion"] == "$LATEST", r
    r, out = call("py-echo", {"b": 2}, LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    assert "handling" in log and "REPORT RequestId" in log, log
    r, out = call("py-echo", {"fail": "x"})
    assert r["FunctionError"] == "Unhandled", r
    assert out["errorType"] == "ValueError" and "bad: x" in out["errorMessage"], out
    assert lam.invoke(FunctionName="py-echo", InvocationType="DryRun")["StatusCode"] == 204

    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert "py-echo" in names, names
    got = lam.get_function(FunctionName="py-echo")
    assert got["Configuration"]["Environment"]["Variables"] == {"MODE": "one"}, got
    lam.update_function_configuration(FunctionName="py-echo", Environment={"Variables": {"MODE": "two"}}, Timeout=5)
    assert call("py-echo", {})[1]["mode"] == "two"
    assert lam.get_function_configuration(FunctionName="py-echo")["Timeout"] == 5

    published = lam.publish_version(FunctionName="py-echo")
    v = published["Version"]
    assert v.isdigit(), published
    alias = lam.create_alias(FunctionName="py-echo", Name="live", FunctionVersion=v, Description="stable")
    assert alias["AliasArn"].endswith(":py-echo:live"), alias
    lam.update_function_code(FunctionName="py-echo", ZipFile=code("v2"))
    assert call("py-echo", {})[1]["mark"] == "v2"
    r, out = call("py-echo", {}, Qualifier="live")
    assert out["mark"] == "v1" and r["ExecutedVersion"] == v, (r, out)
    assert call(f"py-echo:{v}", {})[1]["mark"] == "v1"
    assert lam.get_alias(FunctionName="py-echo", Name="live")["FunctionVersion"] == v
    versions = [x["Version"] for x in lam.list_versions_by_function(FunctionName="py-echo")["Versions"]]
    assert versions[0] == "$LATEST" and v in versions, versions
    assert [a["Name"] for a in lam.list_aliases(FunctionName="py-echo")["Aliases"]] == ["live"]

    # DeleteAlias: gone from the listing and from Invoke; the version stays.
    lam.delete_alias(FunctionName="py-echo", Name="live")
    assert lam.list_aliases(FunctionName="py-echo")["Aliases"] == []
    expect("ResourceNotFoundException", lam.get_alias, FunctionName="py-echo", Name="live")
    expect("ResourceNotFoundException", lam.delete_alias, FunctionName="py-echo", Name="live")
    expect("ResourceNotFoundException", lam.invoke, FunctionName="py-echo", Qualifier="live", Payload=b"{}")
    assert call(f"py-echo:{v}", {})[1]["mark"] == "v1"
    # A new alias of that name starts without the old one's description.
    again = lam.create_alias(FunctionName="py-echo", Name="live", FunctionVersion=v)
    assert again.get("Description", "") == "", again


def test_event_invocations_are_queued_durably():
    lam.create_function(FunctionName="py-async", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code("async")})
    r = lam.invoke(FunctionName="py-async", InvocationType="Event", Payload=json.dumps({"job": 7}))
    assert r["StatusCode"] == 202, r
    deadline = time.time() + 30
    while True:
        runs = rest("/api/v1/executions?workflow=sluice-lambda-events")["executions"]
        done = [e for e in runs if e["status"] == "SUCCEEDED" and e["output"]["Payload"]["got"] == {"job": 7}]
        if done:
            break
        assert time.time() < deadline, runs
        time.sleep(0.2)
    assert done[0]["output"]["StatusCode"] == 200


def finished(run, timeout=30):
    """DescribeExecution once the execution has ended."""
    deadline = time.time() + timeout
    while (d := sfn.describe_execution(executionArn=run))["status"] == "RUNNING":
        assert time.time() < deadline, d
        time.sleep(0.1)
    return d


def test_a_state_machine_task_calls_the_function():
    lam.create_function(FunctionName="py-task", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code("task")})
    definition = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": f"arn:aws:lambda:{REGION}:000000000000:function:py-task", "Payload.$": "$"}, "End": True}}}
    arn = sfn.create_state_machine(name="lambda-task", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input='{"x": 1}')["executionArn"]
    d = finished(run)
    out = json.loads(d["output"])
    assert out["StatusCode"] == 200 and out["Payload"]["got"] == {"x": 1}, d
    # The function's own ARN as the Resource: a failure's Cause is its error
    # document as JSON text, and the history has LambdaFunction… events.
    fn_arn = f"arn:aws:lambda:{REGION}:000000000000:function:py-task"
    legacy = {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": fn_arn, "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.err", "Next": "Read"}], "End": True},
        "Read": {"Type": "Pass", "Parameters": {"message.$": "States.StringToJson($.err.Cause)"}, "OutputPath": "$.message.errorMessage", "End": True}}}
    arn = sfn.create_state_machine(name="lambda-legacy", definition=json.dumps(legacy), roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input='{"fail": 5}')["executionArn"]
    d = finished(run)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", "bad: 5"), d
    types = [e["type"] for e in sfn.get_execution_history(executionArn=run)["events"]]
    assert types[:5] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                         "LambdaFunctionStarted", "LambdaFunctionFailed"], types


def test_errors_are_typed():
    expect("ResourceNotFoundException", lam.get_function, FunctionName="nope")
    expect("ResourceNotFoundException", lam.invoke, FunctionName="nope")
    expect("InvalidParameterValueException", lam.create_function, FunctionName="java-fn", Runtime="java21", Role=ROLE,
           Handler="x", Code={"ZipFile": code("x")})
    lam.create_function(FunctionName="py-gone", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code("g")})
    lam.delete_function(FunctionName="py-gone")
    expect("ResourceNotFoundException", lam.get_function, FunctionName="py-gone")


def test_aws_cli_invoke():
    env = dict(os.environ, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    with tempfile.TemporaryDirectory() as d:
        out_file = os.path.join(d, "out.json")
        r = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", ENDPOINT, "lambda", "invoke",
                            "--function-name", "py-echo",
                            "--payload", '{"cli": true}', out_file], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.load(open(out_file))["got"] == {"cli": True}


if __name__ == "__main__":
    run(globals())
