import json, sys
event = json.load(sys.stdin)
if event.get("n", 0) < 0:
    print(json.dumps({"errorType": "ValueError", "errorMessage": "n must not be negative"}))
    sys.exit(1)
print(json.dumps({"n": event["n"] * 2, "secret": "SLUICE_SECRET" in __import__("os").environ}))
