"""EventBridge's own client against Sluice: boto3 (and the AWS CLI) with
endpoint_url pointed at a `sluice serve` (SLUICE_ENDPOINT). Rules with
state machine targets become Sluice trigger rules; PutEvents entries become
CloudEvents that start them. Run by tests/aws_protocols.rs."""

import json
import os
import subprocess
import sys
import time

import boto3
from harness import ENDPOINT, expect, rest, run

REGION = "eu-west-1"
events = boto3.client("events", endpoint_url=ENDPOINT, region_name=REGION)
sfn = boto3.client("stepfunctions", endpoint_url=ENDPOINT, region_name=REGION)
ROLE = "arn:aws:iam::000000000000:role/anything"



def machine(name):
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def inputs(arn, count, timeout=20):
    deadline = time.time() + timeout
    while True:
        runs = sfn.list_executions(stateMachineArn=arn)["executions"]
        if len(runs) >= count:
            return [json.loads(sfn.describe_execution(executionArn=r["executionArn"])["input"]) for r in runs]
        assert time.time() < deadline, f"{len(runs)} of {count} executions of {arn}"
        time.sleep(0.1)



def order(amount, source="shop"):
    return {"Source": source, "DetailType": "order.placed", "Detail": json.dumps({"amount": amount, "id": f"o-{amount}"})}


def test_rules_and_targets_start_state_machines():
    arn = machine("eb-orders")
    pattern = {"source": ["shop"], "detail-type": ["order.placed"], "detail": {"amount": [{"numeric": [">", 10]}]}}
    rule = events.put_rule(Name="big-orders", EventPattern=json.dumps(pattern), Description="orders over 10")
    assert rule["RuleArn"] == f"arn:aws:events:{REGION}:000000000000:rule/big-orders", rule
    failed = events.put_targets(Rule="big-orders", Targets=[
        {"Id": "whole", "Arn": arn},
        {"Id": "path", "Arn": arn, "InputPath": "$.detail"},
        {"Id": "shaped", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.id", "amount": "$.detail.amount"},
            "InputTemplate": '{"order": <id>, "text": "order <id> of <amount>", "rule": "<aws.events.rule-name>"}'}},
    ])
    assert failed["FailedEntryCount"] == 0, failed
    triggers = {t["name"] for t in rest("/api/v1/triggers")["triggers"]}
    assert {"big-orders.whole", "big-orders.path", "big-orders.shaped"} <= triggers, triggers
    out = events.put_events(Entries=[order(42), order(5), {"Source": "shop", "DetailType": "order.placed", "Detail": "not json"}])
    assert out["FailedEntryCount"] == 1, out
    assert out["Entries"][0]["EventId"] and out["Entries"][1]["EventId"], out
    assert out["Entries"][2]["ErrorCode"] == "MalformedDetail", out
    got = inputs(arn, 3)
    whole = next(i for i in got if "detail-type" in i)
    assert whole["detail"] == {"amount": 42, "id": "o-42"} and whole["source"] == "shop", whole
    assert whole["region"] == REGION and whole["account"] == "000000000000" and whole["version"] == "0", whole
    assert whole["id"] == out["Entries"][0]["EventId"], whole
    assert {"amount": 42, "id": "o-42"} in got, got
    assert {"order": "o-42", "text": "order o-42 of 42", "rule": "big-orders"} in got, got
    time.sleep(0.5)
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 3, "the order of 5 matches nothing"

    d = events.describe_rule(Name="big-orders")
    assert (d["State"], d["Description"], json.loads(d["EventPattern"])) == ("ENABLED", "orders over 10", pattern), d
    assert [r["Name"] for r in events.list_rules(NamePrefix="big-")["Rules"]] == ["big-orders"]
    assert {t["Id"] for t in events.list_targets_by_rule(Rule="big-orders")["Targets"]} == {"whole", "path", "shaped"}

    events.disable_rule(Name="big-orders")
    assert not any(t["name"].startswith("big-orders.") for t in rest("/api/v1/triggers")["triggers"])
    events.put_events(Entries=[order(99)])
    time.sleep(0.5)
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 3, "a disabled rule starts nothing"
    events.enable_rule(Name="big-orders")
    events.put_events(Entries=[order(77)])
    inputs(arn, 6)

    expect("ValidationException", events.delete_rule, Name="big-orders")
    events.remove_targets(Rule="big-orders", Ids=["whole", "path", "shaped"])
    assert events.list_targets_by_rule(Rule="big-orders")["Targets"] == []
    events.delete_rule(Name="big-orders")
    expect("ResourceNotFoundException", events.describe_rule, Name="big-orders")


def test_a_lambda_function_target_is_invoked_asynchronously():
    # `echo` (a function of the server's --functions folder) answers with its event.
    events.put_rule(Name="to-lambda", EventPattern='{"source": ["lambda-shop"]}')
    fn = f"arn:aws:lambda:{REGION}:000000000000:function:echo"
    r = events.put_targets(Rule="to-lambda", Targets=[{"Id": "fn", "Arn": fn, "InputPath": "$.detail"}])
    assert r["FailedEntryCount"] == 0, r
    events.put_events(Entries=[{"Source": "lambda-shop", "DetailType": "t", "Detail": '{"sku": "A-1"}'}])
    deadline = time.time() + 20
    while True:
        runs = rest("/api/v1/executions?workflow=sluice-lambda-events")["executions"]
        done = [e for e in runs if e["status"] == "SUCCEEDED" and e["output"]["Payload"] == {"sku": "A-1"}]
        if done:
            break
        assert time.time() < deadline, runs
        time.sleep(0.1)
    assert done[0]["output"]["StatusCode"] == 200


def test_bad_input_is_refused_with_aws_errors():
    expect("InvalidEventPatternException", events.put_rule, Name="bad", EventPattern='{"source": "shop"}')
    expect("ValidationException", events.put_rule, Name="bad")
    expect("ValidationException", events.put_rule, Name="bad", ScheduleExpression="every minute")
    expect("ResourceNotFoundException", events.put_targets, Rule="nope", Targets=[{"Id": "a", "Arn": "x"}])
    events.put_rule(Name="ok-rule", EventPattern='{"source": ["x"]}')
    r = events.put_targets(Rule="ok-rule", Targets=[{"Id": "a", "Arn": "arn:aws:sqs:eu-west-1:000000000000:queue"}])
    assert r["FailedEntryCount"] == 1 and r["FailedEntries"][0]["TargetId"] == "a", r
    out = events.put_events(Entries=[{"Source": "x", "Detail": "{}"}])
    assert out["FailedEntryCount"] == 1 and out["Entries"][0]["ErrorCode"] == "InvalidArgument", out


def test_schedule_expressions_become_cron_sources():
    arn = machine("eb-tick")
    events.put_rule(Name="tick", ScheduleExpression="cron(0 12 ? * 2-6 *)")
    events.put_targets(Rule="tick", Targets=[{"Id": "t", "Arn": arn, "Input": '{"tick": true}'}])
    source = rest("/api/v1/sources/eb-tick")
    assert source["kind"] == "cron" and source["definition"]["schedule"] == "0 0 12 ? * 1-5", source
    trigger = rest("/api/v1/triggers/tick.t")["definition"]
    assert trigger["pattern"]["source"] == ["sluice://sources/eb-tick"], trigger


def test_test_event_pattern():
    event = {"id": "1", "account": "000000000000", "source": "shop", "time": "2026-12-04T00:00:00Z",
             "region": REGION, "detail-type": "order.placed", "resources": [], "detail": {"amount": 42}}
    yes = events.test_event_pattern(EventPattern='{"detail": {"amount": [{"numeric": [">", 10]}]}}', Event=json.dumps(event))
    assert yes["Result"] is True, yes
    no = events.test_event_pattern(EventPattern='{"detail-type": ["order.cancelled"]}', Event=json.dumps(event))
    assert no["Result"] is False, no


def test_aws_cli_put_events():
    arn = machine("eb-cli")
    events.put_rule(Name="cli", EventPattern='{"source": ["cli"]}')
    events.put_targets(Rule="cli", Targets=[{"Id": "t", "Arn": arn}])
    env = dict(os.environ, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    entries = json.dumps([{"Source": "cli", "DetailType": "hello", "Detail": '{"from": "aws"}'}])
    out = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", ENDPOINT, "--output", "json",
                          "events", "put-events", "--entries", entries], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["FailedEntryCount"] == 0
    assert inputs(arn, 1)[0]["detail"] == {"from": "aws"}


if __name__ == "__main__":
    run(globals())
