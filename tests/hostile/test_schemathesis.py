"""schemathesis against /openapi.json of a real server, with valid tokens: every response
conforms to the document (status, content type, schema) and none is a server error.

Every operation the document lists is tried, so workflow endpoints are covered as they
land. The document is read from the running server, which exists only once the test runs:
so the operations are walked here rather than collected as separate tests.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hostile.conftest import DERANDOMIZE, Target

EXAMPLES = 8  # per operation and generation mode: bounded, the suite runs on 2 cores
# What the document promises about answers. (Not "every schema-violating request is
# refused": unknown query parameters are ignored, as HTTP servers usually do.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_api_conforms_to_its_description(target: Target) -> None:
    """Generated requests, valid and invalid, each made as every kind of caller (who may
    write, who manages, who reads everything, who is limited), get a documented status
    with a body that matches the document; never a 5xx."""
    w = target.world
    callers = [w.secretariat, w.admin, w.supervisor, w.deputies[0], w.unit_users[0]]
    # These revoke the callers' tokens, which the hostile tests share (tests/test_security.py)
    revoking = {"/api/logout", "/api/admin/users/{id}/password"}
    headers = [{"Authorization": f"Bearer {w.tok(u)}"} for u in callers]
    schema = schemathesis.openapi.from_url(target.node.url + "/openapi.json")
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path in revoking:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=DERANDOMIZE,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                for h in headers:
                    case.call_and_validate(headers=h, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, op.label  # nothing in it to get wrong
            except (Exception, BaseExceptionGroup) as e:
                failures.append(f"{op.label} ({mode}): {e}")
            tried += 1
    assert tried >= 10
    assert not failures, "\n\n".join(failures)
