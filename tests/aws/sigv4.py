"""The AWS clients against a `sluice serve --auth`: the access key id is a
token's name and the secret access key is the token; the signature is
checked, and a read token may only read. Run by tests/aws_protocols.rs."""

import json
import os
import sys

import boto3
from botocore.exceptions import ClientError
from harness import ENDPOINT, expect, rest, run

REGION = "eu-west-1"
ADMIN = ("ops", "ops-secret-token-0123456789")
READER = ("viewer", "viewer-secret-token-0123456789")


def client(service, key):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id=key[0], aws_secret_access_key=key[1])


def code_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


def test_a_token_signs_for_every_protocol():
    sfn = client("stepfunctions", ADMIN)
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="signed", definition=definition, roleArn="arn:aws:iam::000000000000:role/r")["stateMachineArn"]
    sfn.start_execution(stateMachineArn=arn, input=json.dumps({"unicode": "é ü"}))
    events = client("events", ADMIN)
    events.put_rule(Name="signed", EventPattern='{"source": ["x"]}')
    lam = client("lambda", ADMIN)
    # The path has an ARN in it (percent-encoded colons): the canonical URI
    # must encode it as the client did.
    assert code_of(lam.get_function, FunctionName=f"arn:aws:lambda:{REGION}:000000000000:function:nope") == ("ResourceNotFoundException", 404)


def test_a_wrong_secret_or_an_unknown_key_is_refused():
    assert code_of(client("stepfunctions", ("ops", "not-the-token-at-all-0000")).list_state_machines) == ("InvalidSignatureException", 403)
    assert code_of(client("stepfunctions", ("nobody", ADMIN[1])).list_state_machines) == ("UnrecognizedClientException", 403)
    assert code_of(client("lambda", ("ops", "wrong-wrong-wrong-wrong")).list_functions) == ("InvalidSignatureException", 403)


def test_a_read_token_reads_only():
    sfn = client("stepfunctions", READER)
    assert any(m["name"] == "signed" for m in sfn.list_state_machines()["stateMachines"])
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert code_of(sfn.create_state_machine, name="nope", definition=definition, roleArn="r") == ("AccessDeniedException", 403)
    assert code_of(client("events", READER).put_events, Entries=[{"Source": "x", "DetailType": "t", "Detail": "{}"}]) == ("AccessDeniedException", 403)
    client("lambda", READER).list_functions()


if __name__ == "__main__":
    run(globals())
