#!/usr/bin/python3
"""check_schema.py SCHEMA: validate JSON messages (one per line on stdin) against
a JSON Schema of docs/schemas/. Prints the first failures; exits 1 on any, or
when no message was read (nothing checked is a failure)."""
import json
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check_schema: python3-jsonschema is missing (run scripts/bootstrap)")

schema = json.load(open(sys.argv[1], encoding="utf-8"))
validator = jsonschema.Draft202012Validator(schema)
n = bad = 0
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    n += 1
    errors = list(validator.iter_errors(json.loads(line)))
    if errors:
        bad += 1
        if bad <= 3:
            print(f"message {n}: {errors[0].message} at {list(errors[0].path)}: {line[:300]}",
                  file=sys.stderr)
print(f"{sys.argv[1]}: {n} messages, {bad} invalid", file=sys.stderr)
sys.exit(1 if bad or n == 0 else 0)
