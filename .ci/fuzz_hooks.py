"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

A real client sends a fresh Idempotency-Key with every new request; the fuzzer draws
keys from a small space ("0", "00", ...), so different requests share one and the
server answers 422 `idempotency-key-reused`, as it must. That says nothing about the
data the fuzzer sent, and would hide every other finding, so in a case meant to be
valid the key is replaced by a new UUID (schemathesis also empties header values it
cannot send, which turns a valid key into an invalid one). A case meant to be invalid
keeps its key. Reusing keys is covered by the black-box tests (tests/idempotency.rs).
"""

import re
import uuid

import schemathesis
from schemathesis import GenerationMode

WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


def meant_valid(case):
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        if name.lower() == "idempotency-key":
            value = headers[name]
            well_formed = isinstance(value, str) and WELL_FORMED.match(value)
            if well_formed or meant_valid(case):
                headers[name] = str(uuid.uuid4())
