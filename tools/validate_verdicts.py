#!/usr/bin/env python3
"""Checks verdict.json files against tutor's published schema, docs/verdict.schema.json.

An independent check of what tutor writes: Python's `jsonschema` (Draft 2020-12), not tutor's
own code. The tests run it on real verdicts; anyone can run it on a spool's.

    python3 tools/validate_verdicts.py spool/done/*/verdict.json spool/failed/*/verdict.json

Prints one JSON object on its last line: each refused file with the reasons ({} when every file
is a valid verdict), and exits 1 when any file is refused.
"""
import json
import pathlib
import sys

import jsonschema

SCHEMA = pathlib.Path(__file__).resolve().parent.parent / "docs" / "verdict.schema.json"


def main(paths):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    refused = {}
    for path in paths:
        try:
            verdict = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            refused[path] = ["not readable as JSON: %s" % e]
            continue
        errors = sorted("%s at /%s" % (e.message, "/".join(map(str, e.absolute_path)))
                        for e in validator.iter_errors(verdict))
        if errors:
            refused[path] = errors
    print(json.dumps(refused))
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
