"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS).

A real client sends a fresh Idempotency-Key with every new request; the fuzzer draws
keys from a small space ("0", "00", ...), so different requests share one and the
server answers 422 `idempotency-key-reused`, as it must. That says nothing about the
data the fuzzer sent, and would hide every other finding, so in a case meant to be
valid the key is replaced by a new UUID (schemathesis also empties header values it
cannot send, which turns a valid key into an invalid one). A case meant to be invalid
keeps its key. Reusing keys is covered by the black-box tests (tests/idempotency.rs).
"""

import csv
import io
import json
import os
import re
import uuid

import schemathesis
from schemathesis import GenerationMode

WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


def meant_valid(case):
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


IMPORTS = {
    "/v1/customers/import": ["kind", "name"],
    "/v1/products/import": ["sku", "name", "list_price_amount", "list_price_currency"],
}


def valid_csv(path, raw):
    """A CSV the importer accepts, carrying what the fuzzer generated as the name.

    An import's rules are per row and per column (a known header, a kind, a unique
    SKU, a price in a currency): no schema can say them, so the fuzzer's "valid" file
    is bytes the importer must refuse, which tells nothing. A case meant to be valid
    gets one row built from its data; malformed files stay in the negative cases and
    in the black-box tests (tests/csv_*.rs, tests/integrity.rs).
    """
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "ignore")
    name = "".join(c for c in str(raw or "") if c.isprintable()).strip()[:200] or "Fuzz"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IMPORTS[path])
    if path == "/v1/customers/import":
        writer.writerow(["person", name])
    else:
        writer.writerow([f"FZ-{uuid.uuid4().hex[:12].upper()}", name, "100", "CNY"])
    return out.getvalue()


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    path = case.operation.path
    if path in IMPORTS and meant_valid(case):
        if isinstance(case.body, dict):
            case.body = {"file": valid_csv(path, case.body.get("file")).encode()}
        else:
            case.body = valid_csv(path, case.body)
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        # A version number drawn at random rarely is the row's: 412 is the right
        # answer, and says nothing about the data sent. A case meant to be valid
        # asks for no precondition; 412 is covered by the black-box tests.
        if name.lower() == "if-match" and meant_valid(case):
            headers[name] = "*"
        if name.lower() == "idempotency-key":
            value = headers[name]
            well_formed = isinstance(value, str) and WELL_FORMED.match(value)
            if well_formed or meant_valid(case):
                headers[name] = str(uuid.uuid4())


TRACE = os.environ.get("FUZZ_TRACE")


@schemathesis.hook
def after_call(ctx, case, response):
    """With FUZZ_TRACE=<file>: one JSON line per call (operation, phase, whether the
    case was meant to be valid, status, problem type and field error codes), to find
    which rule behind a "schema validation mismatch" warning the document lacks."""
    if not TRACE:
        return
    meta = getattr(case, "meta", None)
    line = {
        "op": f"{case.operation.method.upper()} {case.operation.path}",
        "phase": meta.phase.name.value if meta else None,
        "valid": meant_valid(case),
        "status": response.status_code,
    }
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
            line["type"] = body.get("type")
            line["errors"] = [f"{e.get('field')}:{e.get('code')}" for e in body.get("errors") or []]
            line["detail"] = body.get("detail")
        except Exception:  # noqa: BLE001 - a trace, not a check
            pass
        line["headers"] = {k: v for k, v in (case.headers or {}).items()}
        line["body"] = case.body if isinstance(case.body, (dict, list, str)) else None
    with open(TRACE, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")
