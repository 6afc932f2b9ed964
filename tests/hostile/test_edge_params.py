"""Extreme values in every query and path parameter of every read of the API (from
/openapi.json, so a new parameter is covered when it is described): the answer is a
documented status, never a 5xx, and a streamed answer is never cut.

Dates near year 1 or 9999, timestamps with extreme zones, ids past 64 bits, cursors that
hold a boolean or a huge number: each kind has one parsing rule in the hub, and this test
throws every kind at every parameter, whatever the parameter is meant to hold.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import DERANDOMIZE, Target
from tests.utils import TIMEOUT


def _cursor(d: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


EXTREMES = [
    # ids and integers: zero, past BIGINT, past 64 bits, not a number
    "0", str(2**63), "9" * 40, "true",
    # dates and timestamps at the ends of the calendar, and just outside the accepted range
    "0001-01-01", "9999-12-31", "2101-01-01",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999-14:00",
    # archive cursors (base64 JSON) holding a boolean, a number past BIGINT, a float, null
    _cursor({"after": True, "desc": False}), _cursor({"after": 2**63, "desc": False}),
    _cursor({"after": 1.5, "desc": False}), _cursor(None),
]  # fmt: skip


def _operations(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every GET path with its parameters; a path parameter with an enum (the export's
    dataset) gives one path per value."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if op is None or not op.get("parameters"):
            continue
        paths = [path]
        for p in op["parameters"]:
            if p["in"] == "path" and "enum" in p["schema"]:
                paths = [x.replace("{" + p["name"] + "}", v) for x in paths for v in p["schema"]["enum"]]  # fmt: skip
        params = [p for p in op["parameters"] if p["in"] == "query" or "enum" not in p["schema"]]
        out.extend((x, params) for x in paths)
    return out


def _url(path: str, params: list[dict[str, Any]], values: dict[str, str]) -> tuple[str, Any]:
    """The request: path parameters not being tried are 1 (a first row exists)."""
    for p in params:
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", quote(values.get(p["name"], "1"), safe=""))
    query = {p["name"]: values[p["name"]] for p in params if p["in"] == "query" and p["name"] in values}  # fmt: skip
    return path, query


def _check(c: httpx.Client, path: str, query: dict[str, str]) -> str | None:
    """None if the answer is whole and not a server error; else what went wrong."""
    try:
        with c.stream("GET", path, params=query) as r:
            r.read()  # a stream cut mid-way raises here
    except httpx.HTTPError as e:
        return f"GET {path} {query}: {type(e).__name__} {e}"
    if r.status_code >= 500:
        return f"GET {path} {query}: {r.status_code} {r.text[:200]}"
    return None


def _client(target: Target, user: int) -> httpx.Client:
    return httpx.Client(
        base_url=target.node.url,
        headers={"authorization": f"Bearer {target.world.tok(user)}"},
        timeout=TIMEOUT,
    )


VALUES = st.one_of(
    st.sampled_from(EXTREMES),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
)


def test_no_parameter_value_breaks_a_read(target: Target) -> None:
    """A value (each of EXTREMES, then any date, timestamp, integer or text hypothesis
    draws) put in each parameter of each read alone, and in all its parameters at once,
    as a supervisor or a deputy: no 5xx, no cut stream."""
    spec = httpx.get(target.node.url + "/openapi.json", timeout=TIMEOUT).json()
    ops = _operations(spec)
    assert any(path == "/api/archive/export/receipts" for path, _ in ops)
    users = (target.world.supervisor, target.world.deputies[0])
    clients = {u: _client(target, u) for u in users}

    def check(value: str, user: int) -> None:
        failures: list[str] = []
        for path, params in ops:
            for values in [
                *({p["name"]: value} for p in params),
                {p["name"]: value for p in params},
            ]:
                if (bad := _check(clients[user], *_url(path, params, values))) is not None:
                    failures.append(bad)
                    clients[user].close()  # the server may have closed it: start afresh
                    clients[user] = _client(target, user)
        assert not failures, "\n".join(failures)

    prop = given(value=VALUES, user=st.sampled_from(users))(check)
    for v in EXTREMES:
        prop = example(value=v, user=users[0])(prop)
    prop = settings(
        max_examples=len(EXTREMES) + 8,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )(prop)
    try:
        prop()
    finally:
        for c in clients.values():
            c.close()
