"""Schemathesis hooks for the ecnow-gateway sandbox run (loaded through SCHEMATHESIS_HOOKS).

One hook, and why: an `Idempotency-Key` names one logical write. The gateway remembers a key
per caller for 24 h and answers a second, *different* request under the same key with
`422 idempotency_key_reused` (README, "No duplicate records"). Schemathesis draws header values
from the document, so it sends the documented example key (and short generated keys such as
`"0"`) with many different bodies, and then reports the gateway's correct 422 as
"ST202 schema-valid request rejected". A correct client never does that, so every request that
carries a *well-formed* key in a *positive* test case gets a fresh one. Negative cases are sent
unchanged: malformed keys (a bare `null`, an unquoted token) must still be refused with 400, and
touching a negative case would make Schemathesis re-validate it as positive and stop leaving out
a header that the case is meant to omit (a "missing Authorization" case would then be sent with
the CLI's token and reported as ST203). Every check stays enabled.

Two more, for what a JSON Schema cannot say:
- `from` / `to` of a read and `callback_at` of a write: the pattern bounds month, day, hour and
  minute, but not the calendar (2019-02-30 matches it, and the gateway rightly refuses it). In
  positive cases a day past the end of its month is moved to the month's last day; negative
  cases are untouched.
- Writes into the sandbox's expired dataset 300 (a fixture, listed by `GET /datasets`, which the
  stateful phase follows): SPEC answers a create there with 422, which no schema can tell from
  a valid request. Positive cases that write records into it go to live dataset 100 instead.
- `outcome_code` of a record write: SPEC refuses (422) a code the account's outcome-code list
  does not name, which the schema (any integer from 1 to 999999999) cannot know. Positive cases
  write one of the sandbox's listed codes instead.
- Custom columns and value lengths of a record write: SPEC refuses (422) a `custom` name the
  dataset's campaign does not have and a value longer than its column's `size`
  (`campaign_fields`), which the schema (any valid name, up to 255 characters) cannot know.
  Positive cases write the sandbox's custom columns (`company_name`, `test_field`) and values cut
  to the sandbox's sizes instead.
- Import uploads (`text/csv`, `application/x-ndjson`) are files, not JSON values: Schemathesis
  has no serializer for them, so they are drawn from small real uploads (valid rows, an invalid
  row, quoted commas and newlines) instead.
"""

import calendar
import json
import re
import uuid

import schemathesis
from hypothesis import strategies as st

# RFC 8941 sf-string: a quoted string of printable ASCII, `"` and `\` escaped; 1 to 255
# characters inside the quotes (the gateway's limit).
_SF_STRING = re.compile(r'^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255}"$')


# The sandbox's expired dataset, and a live one (the emulator's seed; README, sandbox fixtures).
_EXPIRED_DATASETS = {"300"}
_LIVE_DATASET = 100
# The outcome codes the sandbox's account lists (`GET /outcome-codes`).
_LISTED_OUTCOMES = [100, 200, 201, 300, 301, 302, 510456]

# The sandbox campaigns' custom columns and the sizes of their text columns, in characters
# (`GET /campaigns/sandbox_campaign/fields`).
_SANDBOX_CUSTOM = ["company_name", "test_field"]
_CUSTOM_SIZE = 200
_STANDARD_SIZES = {"title": 10, "first_name": 50, "last_name": 50, "postcode": 10,
                   "callback_notes": 255, "notes": 65535,
                   **{f"address{n}": 100 for n in range(1, 7)}}

_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})(.*)$")

_CSV_UPLOADS = [
    b"first_name,last_name,mobile_phone\r\nJoe,Blogs,07123456789\r\n",
    b'\xef\xbb\xbffirst_name,last_name,mobile_phone,notes\nAda,"Lovelace, Countess",07700900123,"line 1\nline 2"\n',
    b"first_name,mobile_phone\nNoPhone,\nGrace,+44 7700 900456\n",
]
_NDJSON_UPLOADS = [
    b'{"first_name":"Joe","last_name":"Blogs","mobile_phone":"07123456789"}\n',
    b'{"first_name":"Ada","mobile_phone":"07700900123"}\n{"first_name":"NoPhone"}\n',
]
schemathesis.openapi.media_type("text/csv", st.sampled_from(_CSV_UPLOADS))
schemathesis.openapi.media_type("application/x-ndjson", st.sampled_from(_NDJSON_UPLOADS))


@schemathesis.serializer("text/csv", "application/x-ndjson")
def _upload(ctx, value):
    """An upload drawn above is sent as it is; anything else (a schema example) as its text."""
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def _real_dates_in(body):
    """`callback_at` values of a create or update body (one object or a batch) made real dates,
    and `outcome_code` values made codes the sandbox's account lists."""
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict) and "callback_at" in item:
            item["callback_at"] = _real_date(item["callback_at"])
        if isinstance(item, dict) and isinstance(item.get("outcome_code"), (int, float)):
            item["outcome_code"] = _LISTED_OUTCOMES[int(item["outcome_code"]) % len(_LISTED_OUTCOMES)]


def _sandbox_columns_in(body):
    """Record write bodies (one object or a batch) made to fit the sandbox campaigns' columns:
    `custom` names become the campaigns' own (extra ones are dropped) and text values are cut to
    their column's size."""
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            continue
        for name, size in _STANDARD_SIZES.items():
            if isinstance(item.get(name), str):
                item[name] = item[name][:size]
        custom = item.get("custom")
        if isinstance(custom, dict):
            values = list(custom.values())[: len(_SANDBOX_CUSTOM)]
            item["custom"] = {
                name: value[:_CUSTOM_SIZE] if isinstance(value, str) else value
                for name, value in zip(_SANDBOX_CUSTOM, values)
            }


def _real_date(value):
    """`value` with a day past the end of its month moved to the month's last day."""
    match = _DATE.match(value) if isinstance(value, str) else None
    if not match:
        return value
    year, month, day, rest = int(match[1]), int(match[2]), int(match[3]), match[4]
    if not 1 <= month <= 12:
        return value
    last = calendar.monthrange(year, month)[1] if year >= 1 else 28
    return f"{match[1]}-{match[2]}-{min(day, last):02d}{rest}"


@schemathesis.hook
def before_call(context, case, **kwargs):
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative:
        return
    if case.media_type == "application/json":
        _real_dates_in(case.body)
        if "/records" in case.operation.path:
            _sandbox_columns_in(case.body)
    path_parameters = case.path_parameters
    if (
        case.method.upper() == "POST"
        and path_parameters
        and str(path_parameters.get("dataset")) in _EXPIRED_DATASETS
    ):
        path_parameters["dataset"] = _LIVE_DATASET
    query = case.query
    if query:
        for name in ("from", "to"):
            if name in query:
                query[name] = _real_date(query[name])
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and _SF_STRING.match(value):
            headers[name] = f'"{uuid.uuid4()}"'
