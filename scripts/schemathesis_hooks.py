"""Schemathesis hooks for scripts/schemathesis: the two rules of openapi.yaml that JSON Schema
cannot state, so that a request the schema calls valid is one the node must accept.

* `expires_at` must be in the future when the request arrives (the node answers 400
  `invalid_field` otherwise, as openapi.yaml says). A generated time in a year that is not
  in the future gets the year 2996 (a leap year, so the date stays valid; a 29 February of a
  year that is not a leap year was invalid and is left as it is). Only the year changes:
  a value that breaks `format: date-time` still breaks it.
* `meta`: keys and values together at most 4096 bytes of UTF-8. A map of strings that is
  larger loses entries until it fits. A map with a value that is not a string (a request
  meant to be invalid) is left as it is.
* `limits`: names unique among a key's limits. A limit whose name is valid but repeats an
  earlier one's is renamed (still valid, now unique); nothing is added or removed, so a
  list meant to be invalid (too long, a bad name, a bad number) stays invalid.

And one way of writing a body: `POST /v1/keys/import` takes NDJSON (`application/x-ndjson`),
whose schema is a string (the lines); it is sent as it is. A value that is not a string (a
request meant to be invalid) has no NDJSON text at all and is sent as an empty body.

Nothing else is changed: every other disagreement between the schema and the node is a
finding. Loaded by `SCHEMATHESIS_HOOKS=schemathesis_hooks` with this folder on PYTHONPATH.
"""

import datetime
import re

import schemathesis

KEY_WRITES = {("POST", "/v1/keys"), ("PATCH", "/v1/keys/{id}")}
DATE_TIME = re.compile(r"^(\d{4})(-(\d{2})-(\d{2})[Tt].*)$")
FUTURE_YEAR = "2996"
LIMIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_META_BYTES = 4096


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _future(value: str) -> str:
    match = DATE_TIME.match(value)
    if match is None:
        return value
    year, month, day = int(match.group(1)), match.group(3), match.group(4)
    if year > datetime.datetime.now(datetime.timezone.utc).year:
        return value
    if (month, day) == ("02", "29") and not _is_leap(year):
        return value
    return FUTURE_YEAR + match.group(2)


def _meta_bytes(meta: dict) -> int:
    return sum(len(key.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass")) for key, value in meta.items())


def _unique_limit_names(limits: list) -> None:
    seen = set()
    for index, limit in enumerate(limits):
        if not isinstance(limit, dict) or not isinstance(limit.get("name"), str) or not LIMIT_NAME.match(limit["name"]):
            continue
        name = limit["name"]
        suffix = 0
        while name in seen:
            suffix += 1
            name = f"{limit['name'][:50]}_{index}_{suffix}"
        limit["name"] = name
        seen.add(name)


# A valid `wait_ms` of GET /v1/events holds the request up to a minute (a long poll): kept
# to a second here, within the run's request timeout. Invalid values are left as generated.
MAX_EVENTS_WAIT_MS = 1000


def _short_wait(case) -> None:
    query = case.query if isinstance(case.query, dict) else None
    if not query or "wait_ms" not in query:
        return
    try:
        wait = int(str(query["wait_ms"]))
    except ValueError:
        return
    if MAX_EVENTS_WAIT_MS < wait <= 60000 and str(query["wait_ms"]) == str(wait):
        query["wait_ms"] = MAX_EVENTS_WAIT_MS


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.method.upper() == "GET" and case.operation.path == "/v1/events":
        _short_wait(case)
        return
    if (case.method.upper(), case.operation.path) not in KEY_WRITES or not isinstance(case.body, dict):
        return
    expires_at = case.body.get("expires_at")
    if isinstance(expires_at, str):
        case.body["expires_at"] = _future(expires_at)
    limits = case.body.get("limits")
    if isinstance(limits, list):
        _unique_limit_names(limits)
    meta = case.body.get("meta")
    if isinstance(meta, dict) and all(isinstance(value, str) for value in meta.values()):
        while meta and _meta_bytes(meta) > MAX_META_BYTES:
            meta.pop(max(meta, key=lambda key: len(key) + len(meta[key])))


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """The import's lines as generated (a string); anything else as no lines at all."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return b""
