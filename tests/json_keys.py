"""The keys of an iolens JSON document, flattened, and the types each holds.

A key is named by its path from the top of the document, as docs/json.md
names it: objects joined with '.', the items of an array marked '[]'
("results[].model.async_share", "results[].histogram.buckets[][]"). Types
are object, array, string, number (int and float alike), bool and null; a
key holds the set of the types it had anywhere in the document.

Used by test_json_schema.py (the documented keys against real runs) and by
test_cli.py (one compare --quick against tests/schema/compare_quick.json).
To record that file again after a change that is meant:

    json_keys.py record RESULTS.JSON > tests/schema/compare_quick.json

The notes under "may_vary" of the file it replaces are kept.
"""
import json
import os
import sys

TYPES = ("object", "array", "string", "number", "bool", "null")
RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema",
                        "compare_quick.json")


def type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def flatten(doc, out=None):
    """{key path: set of type names} over the whole document (the root itself left out)."""
    out = {} if out is None else out

    def walk(value, path):
        out.setdefault(path, set()).add(type_name(value))
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + "." + k)
        elif isinstance(value, list):
            for v in value:
                walk(v, path + "[]")

    for k, v in doc.items():
        walk(v, k)
    return out


def backends(doc):
    """The backends a document has results of (compare runs every available one)."""
    return sorted({r["backend"] for r in doc["results"]})


def compare_with_recorded(doc, recorded=None):
    """What differs between a compare --quick document and the recorded keys and
    types, one line each; [] when nothing does.

    Every key must be there, and no other. A key's types must be the recorded
    set exactly, except for the keys under "may_vary" (what a machine or a
    build may legitimately change), whose types must be within the set
    allowed there; when the available backends are not those recorded, each
    key's types need only be within the recorded set (a backend that is
    missing takes its figures with it).
    """
    if recorded is None:
        with open(RECORDED) as f:
            recorded = json.load(f)
    want = {k: set(v) for k, v in recorded["types"].items()}
    may_vary = recorded.get("may_vary", {})
    loose = backends(doc) != sorted(recorded["backends"])
    got = flatten(doc)
    problems = []
    for key in sorted(set(got) - set(want)):
        problems.append("new key %s (%s)" % (key, ", ".join(sorted(got[key]))))
    for key in sorted(set(want) - set(got)):
        problems.append("key no longer written: %s" % key)
    for key in sorted(set(got) & set(want)):
        if key in may_vary:
            if got[key] <= set(may_vary[key]["allowed"]):
                continue
            want[key] = set(may_vary[key]["allowed"])
        elif got[key] == want[key] or (loose and got[key] <= want[key]):
            continue
        problems.append("%s: types %s, recorded %s" % (key, ", ".join(sorted(got[key])),
                                                      ", ".join(sorted(want[key]))))
    return problems


def record(doc, may_vary):
    """The recorded file's text: one line per key, so that a change shows as one line."""
    head = {
        "about": "Keys and types of the JSON of 'iolens compare --quick', as "
                 "tests/json_keys.py flattens them; test_cli.py compares every "
                 "compare --quick with it. A key under may_vary may hold any of "
                 "the types allowed there, for the reason given.",
        "backends": backends(doc),
        "may_vary": may_vary,
    }
    lines = ['  %s: %s' % (json.dumps(k), json.dumps(sorted(v)))
             for k, v in sorted(flatten(doc).items())]
    text = json.dumps(head, indent=2, sort_keys=True)
    return text[:-2] + ',\n  "types": {\n  ' + ',\n  '.join(lines) + '\n  }\n}\n'


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: json_keys.py record RESULTS.JSON")
    with open(sys.argv[2]) as f:
        document = json.load(f)
    old = {}
    if os.path.exists(RECORDED):
        with open(RECORDED) as f:
            old = json.load(f).get("may_vary", {})
    sys.stdout.write(record(document, old))
