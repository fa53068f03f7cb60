"""Step Functions' own client against Sluice: boto3 (and the AWS CLI) with
endpoint_url pointed at a `sluice serve` (SLUICE_ENDPOINT), as a user of
Step Functions would call it. Run by tests/aws_protocols.rs; each test_*
function is one behaviour, and the script exits non-zero naming every one
that failed."""

import json
import os
import subprocess
import sys
import time

import boto3
from botocore.config import Config
from harness import ENDPOINT, expect, rest, run

REGION = "eu-west-1"
ROLE = "arn:aws:iam::000000000000:role/anything"
sfn = boto3.client("stepfunctions", endpoint_url=ENDPOINT, region_name=REGION)
# StartSyncExecution and TestState have the host prefix "sync-" (sync-states.REGION…);
# against an address the prefix must be off, as for Step Functions Local.
sfn_sync = boto3.client(
    "stepfunctions",
    endpoint_url=ENDPOINT,
    region_name=REGION,
    config=Config(inject_host_prefix=False),
)

PASS = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"hi": 1}, "ResultPath": "$.greeting", "End": True}}}


def machine(name, definition=PASS, **kw):
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, **kw)


def wait_done(arn, timeout=30):
    deadline = time.time() + timeout
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        assert time.time() < deadline, f"{arn} still RUNNING"
        time.sleep(0.1)



def test_state_machines_are_workflows():
    created = machine("sfn-hello", tags=[{"key": "team", "value": "payments"}])
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:{REGION}:000000000000:stateMachine:sfn-hello", arn
    assert created["creationDate"].year >= 2026
    # Idempotent: the same definition answers with the same machine.
    assert machine("sfn-hello")["stateMachineArn"] == arn
    other = dict(PASS, Comment="changed")
    expect("StateMachineAlreadyExists", machine, "sfn-hello", other)
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["name"] == "sfn-hello" and d["type"] == "STANDARD" and d["status"] == "ACTIVE", d
    assert json.loads(d["definition"]) == PASS
    assert d["roleArn"] == ROLE
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert "sfn-hello" in names, names
    # The same machine is a workflow of the REST API.
    assert rest("/api/v1/workflows/sfn-hello")["definition"] == PASS
    tags = sfn.list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags == [{"key": "team", "value": "payments"}], tags
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "tier", "value": "1"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "tier", "value": "1"}]


def test_paging_state_machines():
    for i in range(3):
        machine(f"sfn-page-{i}")
    seen, token = [], None
    while True:
        kw = {"maxResults": 2}
        if token:
            kw["nextToken"] = token
        page = sfn.list_state_machines(**kw)
        assert len(page["stateMachines"]) <= 2
        seen += [m["name"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert {"sfn-page-0", "sfn-page-1", "sfn-page-2"} <= set(seen), seen
    assert len(seen) == len(set(seen)), seen


def test_versions_and_weighted_aliases():
    arn = machine("sfn-versions", publish=True, versionDescription="first")["stateMachineArn"]
    v2 = dict(PASS, Comment="two")
    up = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(v2), publish=True, versionDescription="second")
    assert up["stateMachineVersionArn"] == f"{arn}:2", up
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"], versions
    one = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert json.loads(one["definition"]) == PASS and one["description"] == "first", one
    # The description is the version's: the state machine's own ARN has none.
    assert "description" not in sfn.describe_state_machine(stateMachineArn=arn)
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:2"
    alias = sfn.create_state_machine_alias(
        name="live",
        routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:1", "weight": 80},
            {"stateMachineVersionArn": f"{arn}:2", "weight": 20},
        ],
    )["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    d = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert {(r["stateMachineVersionArn"], r["weight"]) for r in d["routingConfiguration"]} == {(f"{arn}:1", 80), (f"{arn}:2", 20)}
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias]
    started = sfn.start_execution(stateMachineArn=alias, input="{}")
    done = wait_done(started["executionArn"])
    assert done["stateMachineVersionArn"] == f"{arn}:2", done
    by_version = sfn.start_execution(stateMachineArn=f"{arn}:1")
    assert wait_done(by_version["executionArn"])["stateMachineVersionArn"] == f"{arn}:1"
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    expect("ResourceNotFound", sfn.describe_state_machine_alias, stateMachineAliasArn=alias)


def test_delete_state_machine_version():
    nap = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "End": True}}}
    arn = machine("sfn-delete-version", nap, publish=True)["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(PASS), publish=True)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2", "weight": 100}]
    )["stateMachineAliasArn"]
    # A version an alias routes to cannot go.
    expect("ConflictException", sfn.delete_state_machine_version, stateMachineVersionArn=f"{arn}:2")
    expect("InvalidArn", sfn.delete_state_machine_version, stateMachineVersionArn=arn)
    # One that runs goes on after its version is deleted.
    running = sfn.start_execution(stateMachineArn=f"{arn}:1")["executionArn"]
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2"], versions
    expect("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=f"{arn}:1")
    expect("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=f"{arn}:1")
    expect(
        "ValidationException",
        sfn.update_state_machine_alias,
        stateMachineAliasArn=alias,
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}],
    )
    done = wait_done(running)
    assert done["status"] == "SUCCEEDED" and done["stateMachineVersionArn"] == f"{arn}:1", done
    ran = sfn.describe_state_machine_for_execution(executionArn=running)
    assert json.loads(ran["definition"]) == nap, ran
    # Deleting it again, or a version that never was: 200, as AWS.
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:9")
    # The latest version is the state machine's definition: it stays.
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    e = expect("ConflictException", sfn.delete_state_machine_version, stateMachineVersionArn=f"{arn}:2")
    assert "latest" in e.response["Error"]["Message"], e.response
    # The state machine itself is untouched.
    assert wait_done(sfn.start_execution(stateMachineArn=arn)["executionArn"])["status"] == "SUCCEEDED"


def test_validate_names_the_problem_by_pointer():
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert ok["result"] == "OK" and ok["diagnostics"] == [], ok
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    res = sfn.validate_state_machine_definition(definition=json.dumps(bad))
    assert res["result"] == "FAIL", res
    assert any(d["location"] == "/States/A/Next" for d in res["diagnostics"]), res
    broken = sfn.validate_state_machine_definition(definition="{not json")
    assert broken["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION", broken
    e = expect("InvalidDefinition", machine, "sfn-bad", bad)
    assert "/States/A/Next" in str(e), e


def test_start_is_idempotent_by_name_and_input():
    arn = machine("sfn-wait", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn, name="order-1", input='{"n": 1}')
    assert first["executionArn"] == f"arn:aws:states:{REGION}:000000000000:execution:sfn-wait:order-1"
    again = sfn.start_execution(stateMachineArn=arn, name="order-1", input='{"n": 1}')
    assert again["executionArn"] == first["executionArn"]
    try:
        sfn.start_execution(stateMachineArn=arn, name="order-1", input='{"n": 2}')
        raise AssertionError("another input must be refused")
    except sfn.exceptions.ExecutionAlreadyExists:
        pass
    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="Ops.Cancel", cause="by hand")
    assert stopped["stopDate"]
    d = sfn.describe_execution(executionArn=first["executionArn"])
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Ops.Cancel", "by hand"), d
    # Once it has ended, the name is taken.
    expect("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn, name="order-1", input='{"n": 1}')
    assert d["redriveStatus"] == "REDRIVABLE"
    sfn.redrive_execution(executionArn=first["executionArn"])
    assert sfn.describe_execution(executionArn=first["executionArn"])["status"] == "RUNNING"
    sfn.stop_execution(executionArn=first["executionArn"])
    expect("InvalidExecutionInput", sfn.start_execution, stateMachineArn=arn, input="{nope")


def test_describe_list_and_history():
    arn = machine("sfn-task", {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": "sluice:function:echo", "Parameters": {"n.$": "$.n"}, "ResultPath": "$.echoed", "Next": "Done"}, "Done": {"Type": "Succeed"}}})["stateMachineArn"]
    runs = [sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": i}))["executionArn"] for i in range(3)]
    for i, r in enumerate(runs):
        d = wait_done(r)
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"]) == {"n": i, "echoed": {"n": i}}, d
        assert json.loads(d["input"]) == {"n": i}
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert set(runs) <= {e["executionArn"] for e in listed}, listed
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"] == []
    page = sfn.list_executions(stateMachineArn=arn, maxResults=2)
    assert len(page["executions"]) == 2 and page.get("nextToken"), page
    rest = sfn.list_executions(stateMachineArn=arn, maxResults=2, nextToken=page["nextToken"])
    assert len(rest["executions"]) == 1, rest
    history = sfn.get_execution_history(executionArn=runs[0])["events"]
    types = [e["type"] for e in history]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded", types
    for t in ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "SucceedStateEntered"]:
        assert t in types, types
    by_type = {e["type"]: e for e in history}
    assert json.loads(by_type["ExecutionStarted"]["executionStartedEventDetails"]["input"]) == {"n": 0}
    scheduled = by_type["TaskScheduled"]["taskScheduledEventDetails"]
    assert json.loads(scheduled["parameters"]) == {"n": 0} and scheduled["resource"] == "echo", scheduled
    assert by_type["TaskStateEntered"]["stateEnteredEventDetails"]["name"] == "Echo"
    assert json.loads(by_type["ExecutionSucceeded"]["executionSucceededEventDetails"]["output"])["echoed"] == {"n": 0}
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    newest = sfn.get_execution_history(executionArn=runs[0], reverseOrder=True, maxResults=2)
    assert [e["type"] for e in newest["events"]] == types[::-1][:2] and newest["nextToken"], newest
    more = sfn.get_execution_history(executionArn=runs[0], reverseOrder=True, maxResults=100, nextToken=newest["nextToken"])
    assert [e["type"] for e in more["events"]] == types[::-1][2:]
    bare = sfn.get_execution_history(executionArn=runs[0], includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"], bare[0]
    sm = sfn.describe_state_machine_for_execution(executionArn=runs[0])
    assert sm["name"] == "sfn-task" and "sluice:function:echo" in sm["definition"], sm
    assert sm["stateMachineArn"].endswith(":stateMachine:sfn-task"), sm


def test_task_tokens():
    arn = machine("sfn-token", {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "sluice:function:echo.waitForTaskToken", "Parameters": {"token.$": "$$.Task.Token"}, "ResultPath": "$.answer", "End": True}}})["stateMachineArn"]

    def token_of(execution):
        deadline = time.time() + 20
        while time.time() < deadline:
            for e in sfn.get_execution_history(executionArn=execution)["events"]:
                if e["type"] == "TaskScheduled":
                    return json.loads(e["taskScheduledEventDetails"]["parameters"])["token"]
            time.sleep(0.1)
        raise AssertionError("no TaskScheduled event")

    ok = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = token_of(ok)
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    assert json.loads(wait_done(ok)["output"])["answer"] == {"approved": True}
    try:
        sfn.send_task_success(taskToken=token, output="{}")
        raise AssertionError("a used token must be refused")
    except sfn.exceptions.TaskTimedOut:
        pass
    bad = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.send_task_failure(taskToken=token_of(bad), error="Denied", cause="no budget")
    d = wait_done(bad)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "Denied", "no budget"), d
    expect("TaskDoesNotExist", sfn.send_task_success, taskToken="not-a-token", output="{}")
    expect("InvalidOutput", sfn.send_task_success, taskToken=token, output="{bad")


def test_express_and_start_sync():
    arn = machine("sfn-express", type="EXPRESS")["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    r = sfn_sync.start_sync_execution(stateMachineArn=arn, input='{"a": 1}')
    assert r["status"] == "SUCCEEDED", r
    assert json.loads(r["output"]) == {"a": 1, "greeting": {"hi": 1}}, r
    assert r["billingDetails"]["billedDurationInMilliseconds"] >= 0
    fail = machine("sfn-express-fail", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "said no"}}}, type="EXPRESS")
    r = sfn_sync.start_sync_execution(stateMachineArn=fail["stateMachineArn"])
    assert (r["status"], r["error"], r["cause"]) == ("FAILED", "Nope", "said no"), r
    # Tasks run in memory; the history is kept in memory and served.
    echo = {"StartAt": "E", "States": {"E": {"Type": "Task", "Resource": "sluice:function:echo", "ResultPath": "$.r", "End": True}}}
    tasks = machine("sfn-express-task", echo, type="EXPRESS")["stateMachineArn"]
    r = sfn_sync.start_sync_execution(stateMachineArn=tasks, input='{"x": 2}')
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", {"x": 2, "r": {"x": 2}}), r
    events = sfn.get_execution_history(executionArn=r["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded", types
    assert "TaskScheduled" in types and "TaskSucceeded" in types, types
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"]) == {"x": 2, "r": {"x": 2}}
    started = sfn.start_execution(stateMachineArn=tasks, input='{"x": 3}')["executionArn"]
    assert wait_done(started)["status"] == "SUCCEEDED"
    # Only request-response tasks, as on Step Functions.
    waits = {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": "sluice:function:echo.waitForTaskToken", "End": True}}}
    e = expect("InvalidDefinition", machine, "sfn-express-waits", waits, type="EXPRESS")
    assert "/States/W/Resource" in str(e), e
    expect("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=tasks.replace("sfn-express-task", "sfn-express-waits"))
    v = sfn.validate_state_machine_definition(definition=json.dumps(waits), type="EXPRESS")
    assert v["result"] == "FAIL" and v["diagnostics"][0]["location"] == "/States/W/Resource", v
    assert sfn.validate_state_machine_definition(definition=json.dumps(waits), type="STANDARD")["result"] == "OK"
    standard = machine("sfn-standard")["stateMachineArn"]
    expect("StateMachineTypeNotSupported", sfn_sync.start_sync_execution, stateMachineArn=standard)
    # The type is fixed at creation.
    expect("StateMachineAlreadyExists", machine, "sfn-express", PASS, type="STANDARD")


def test_test_state_runs_one_state():
    r = sfn_sync.test_state(definition=json.dumps({"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "Next": "After"}), roleArn=ROLE, input='{"n": 21}')
    assert (r["status"], json.loads(r["output"]), r["nextState"]) == ("SUCCEEDED", {"doubled": 42}, "After"), r
    choice = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"}
    assert sfn_sync.test_state(definition=json.dumps(choice), roleArn=ROLE, input='{"n": 11}')["nextState"] == "Big"
    f = sfn_sync.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}), roleArn=ROLE)
    assert (f["status"], f["error"], f["cause"]) == ("FAILED", "E", "C"), f
    task = {"Type": "Task", "Resource": "sluice:function:echo", "ResultPath": "$.r", "End": True}
    t = sfn_sync.test_state(definition=json.dumps(task), roleArn=ROLE, input='{"x": 1}', inspectionLevel="DEBUG")
    assert t["status"] == "SUCCEEDED" and json.loads(t["output"]) == {"x": 1, "r": {"x": 1}}, t
    assert json.loads(t["inspectionData"]["result"]) == {"x": 1}, t
    boom = {"Type": "Task", "Resource": "sluice:function:boom", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}], "End": True}
    c = sfn_sync.test_state(definition=json.dumps(boom), roleArn=ROLE)
    assert (c["status"], c["nextState"]) == ("CAUGHT_ERROR", "Handle"), c
    retry = dict(boom, Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}])
    retry.pop("Catch")
    assert sfn_sync.test_state(definition=json.dumps(retry), roleArn=ROLE)["status"] == "RETRIABLE"
    expect("InvalidDefinition", sfn_sync.test_state, definition=json.dumps({"Type": "Pass", "Bogus": 1}), roleArn=ROLE)


def test_errors_are_typed():
    missing = f"arn:aws:states:{REGION}:000000000000:execution:sfn-hello:nope"
    try:
        sfn.describe_execution(executionArn=missing)
        raise AssertionError("must fail")
    except sfn.exceptions.ExecutionDoesNotExist as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    expect("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=f"arn:aws:states:{REGION}:000000000000:stateMachine:ghost")
    expect("InvalidArn", sfn.describe_state_machine, stateMachineArn="ghost")
    expect("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=f"arn:aws:states:{REGION}:000000000000:stateMachine:ghost")
    expect("InvalidName", machine, "has space")


def test_requests_are_checked_and_answered_as_aws_does():
    # The definition comes back as it was sent, spaces and all.
    spaced = '{"StartAt": "P",\n  "States": {"P": {"Type": "Pass", "End": true}}}'
    arn = sfn.create_state_machine(name="sfn-as-sent", definition=spaced, roleArn=ROLE,
                                   encryptionConfiguration={"type": "AWS_OWNED_KEY"})["stateMachineArn"]
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["definition"] == spaced, d["definition"]
    assert d["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}, d
    respaced = spaced.replace("\n  ", " ")
    sfn.update_state_machine(stateMachineArn=arn, definition=respaced)
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == respaced
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert sfn.describe_state_machine_for_execution(executionArn=run)["definition"] == respaced
    # Model constraints are ValidationException, with AWS's message.
    long = "t" * 81
    e = expect("ValidationException", machine, long)
    assert e.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{long}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80"), e
    expect("ValidationException", sfn.start_execution, stateMachineArn=arn, name=long)
    expect("InvalidArn", sfn.create_state_machine, name="sfn-bad-role", definition=json.dumps(PASS), roleArn="arn:aws:iam::1234:role/r")
    expect("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=arn.replace("sfn-as-sent", "sfn-bad-role"))
    e = expect("ValidationException", machine, "sfn-unpublished", versionDescription="v1")
    assert e.response["Error"]["Message"] == "Version description can only be set when publish is true"
    # Aliases: the routing is checked before anything is looked up.
    v1 = machine("sfn-routes", publish=True)["stateMachineVersionArn"]
    for routes, says in [([{"stateMachineVersionArn": v1, "weight": 50}], "sum of the weights"),
                         ([{"stateMachineVersionArn": v1, "weight": 40}] * 3, "1 or 2")]:
        e = expect("ValidationException", sfn.create_state_machine_alias, name="live", routingConfiguration=routes)
        assert says in e.response["Error"]["Message"], e
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    expect("ValidationException", sfn.update_state_machine_alias, stateMachineAliasArn=alias)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    expect("ResourceNotFound", sfn.delete_state_machine_alias, stateMachineAliasArn=alias)
    # A page token of another listing.
    for _ in range(2):
        sfn.start_execution(stateMachineArn=arn)
    token = sfn.list_executions(stateMachineArn=arn, maxResults=1)["nextToken"]
    e = expect("InvalidToken", sfn.list_executions, stateMachineArn=arn, statusFilter="ABORTED", nextToken=token)
    assert "Input inconsistent with page token" in e.response["Error"]["Message"], e


def test_delete_stops_running_executions():
    arn = machine("sfn-doomed", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    assert sfn.describe_execution(executionArn=run)["status"] == "ABORTED"
    expect("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=arn)
    sfn.delete_state_machine(stateMachineArn=arn)  # again: nothing to do, no error


def test_aws_cli():
    env = dict(os.environ, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", ENDPOINT, "--output", "json", "stepfunctions"]

    def cli(*args):
        out = subprocess.run(aws + list(args), env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    created = cli("create-state-machine", "--name", "sfn-cli", "--definition", json.dumps(PASS), "--role-arn", ROLE)
    listed = cli("list-state-machines")["stateMachines"]
    assert created["stateMachineArn"] in [m["stateMachineArn"] for m in listed]
    started = cli("start-execution", "--state-machine-arn", created["stateMachineArn"], "--input", '{"cli": true}')
    assert wait_done(started["executionArn"])["status"] == "SUCCEEDED"
    bad = subprocess.run(aws + ["describe-execution", "--execution-arn", created["stateMachineArn"].replace("stateMachine", "execution") + ":nope"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "ExecutionDoesNotExist" in bad.stderr, bad.stderr


if __name__ == "__main__":
    run(globals())
