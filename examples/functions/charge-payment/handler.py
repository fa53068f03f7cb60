"""charge-payment: charges the card for the sum of the priced lines.

stdio protocol: the event JSON arrives on stdin, the result JSON goes to
stdout, and a non-zero exit is a task failure.
Event:  {"orderId": "o-1", "card": "4242", "lines": [{"lineTotalCents": 900}, ...]}
Result: {"chargeId": "ch_o-1", "totalCents": 900, "currency": "EUR"}
The card "0000" is declined (error PaymentDeclined), to try the Catch path.
"""
import json
import sys


def fail(error, message):
    # Lambda's error shape: the error name is what Retry and Catch match on.
    json.dump({"errorType": error, "errorMessage": message}, sys.stdout)
    print(f"{error}: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    event = json.load(sys.stdin)
    if event.get("card") == "0000":
        fail("PaymentDeclined", "the card was declined")
    total = sum(line.get("lineTotalCents", 0) for line in event.get("lines", []))
    json.dump({"chargeId": f"ch_{event.get('orderId')}", "totalCents": total, "currency": "EUR"}, sys.stdout)


if __name__ == "__main__":
    main()
