"""The keys of an iolens JSON document, flattened, and the types each holds.

A key is named by its path from the top of the document, as docs/json.md
names it: objects joined with '.', the items of an array marked '[]'
("results[].model.async_share", "results[].histogram.buckets[][]"). Types
are object, array, string, number (int and float alike), bool and null; a
key holds the set of the types it had anywhere in the document.

Used by test_json_schema.py (the documented keys against real runs).
"""

TYPES = ("object", "array", "string", "number", "bool", "null")


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
