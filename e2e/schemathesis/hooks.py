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
the CLI's token and reported as ST203). Every check stays enabled; nothing else is altered.
"""

import re
import uuid

import schemathesis

# RFC 8941 sf-string: a quoted string of printable ASCII, `"` and `\` escaped; 1 to 255
# characters inside the quotes (the gateway's limit).
_SF_STRING = re.compile(r'^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255}"$')


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers
    if not headers:
        return
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative:
        return
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and _SF_STRING.match(value):
            headers[name] = f'"{uuid.uuid4()}"'
