#!/usr/bin/python3
"""schema_check.py — validate JSON documents against the project's schemas.

    schema_check.py SCHEMA[#POINTER] FILE...

SCHEMA is a JSON Schema file (schemas/*.schema.json) or the OpenAPI
description (schemas/openapi.yaml, OpenAPI 3.1: its schemas are JSON Schema
2020-12); #POINTER picks a schema inside it, e.g.
schemas/openapi.yaml#/components/schemas/Challenge. A FILE of "-" is stdin.
References to other files (./refvalues.schema.json) are read from beside
SCHEMA. Prints one line per violation (at most 5 per document) and exits 1
if any document does not validate, 2 on a usage or schema error.

Uses Debian's python3-jsonschema and python3-yaml (scripts/install-deps.sh);
run it with /usr/bin/python3. A test helper, not part of any product.
"""
import json
import os
import sys
import urllib.parse

import jsonschema
import yaml


def load(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            return yaml.safe_load(f)
        return json.load(f)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    spec, _, pointer = argv[1].partition("#")
    spec = os.path.abspath(spec)
    root = load(spec)
    base = "file://" + urllib.parse.quote(spec)
    store = {}
    for name in os.listdir(os.path.dirname(spec)):
        if name.endswith(".schema.json"):
            path = os.path.join(os.path.dirname(spec), name)
            store["file://" + urllib.parse.quote(path)] = load(path)
    schema = {"$ref": "#" + pointer} if pointer else root
    cls = jsonschema.validators.validator_for(root if isinstance(root, dict) and "$schema" in root
                                              else {"$schema": "https://json-schema.org/draft/2020-12/schema"})
    resolver = jsonschema.RefResolver(base, root, store=store)
    validator = cls(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
    bad = 0
    for f in argv[2:]:
        try:
            doc = json.load(sys.stdin) if f == "-" else load(f)
        except (OSError, ValueError) as e:
            print(f"{f}: not JSON: {e}")
            bad += 1
            continue
        errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errs[:5]:
            where = "/" + "/".join(str(p) for p in e.absolute_path)
            print(f"{f}: {where}: {e.message[:300]}")
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.RefResolutionError) as e:
        print(f"schema error: {e}", file=sys.stderr)
        sys.exit(2)
