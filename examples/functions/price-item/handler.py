"""price-item: one order line in, the same line with its total out.

stdio protocol: the event JSON arrives on stdin, the result JSON goes to
stdout, and a non-zero exit is a task failure.
Event:  {"sku": "tea", "quantity": 2, "unitPriceCents": 450}
Result: {"sku": "tea", "quantity": 2, "lineTotalCents": 900}
"""
import json
import sys


def fail(error, message):
    # Lambda's error shape: the error name is what Retry and Catch match on.
    json.dump({"errorType": error, "errorMessage": message}, sys.stdout)
    print(f"{error}: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    item = json.load(sys.stdin)
    quantity = item.get("quantity", 1)
    price = item.get("unitPriceCents")
    if not isinstance(quantity, int) or not isinstance(price, int) or quantity < 1 or price < 0:
        fail("InvalidItem", f"need a positive integer quantity and unitPriceCents, got {json.dumps(item)}")
    json.dump({"sku": item.get("sku"), "quantity": quantity, "lineTotalCents": quantity * price}, sys.stdout)


if __name__ == "__main__":
    main()
