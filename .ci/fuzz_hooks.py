"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

A real client sends a fresh Idempotency-Key with every new request; the fuzzer draws
keys from a small space ("0", "00", ...), so different requests share one and the
server answers 422 `idempotency-key-reused`, as it must. That says nothing about the
data the fuzzer sent, and would hide every other finding, so a well-formed key is
replaced by a new UUID. A malformed one (a negative test) is left as it is. Reusing
keys is covered by the black-box tests (tests/idempotency.rs).
"""

import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        if name.lower() == "idempotency-key":
            value = headers[name]
            if isinstance(value, str) and WELL_FORMED.match(value):
                headers[name] = str(uuid.uuid4())
