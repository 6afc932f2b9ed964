"""hub/shapes.py: a request that does not fit its Struct is a BadRequest naming the field
at fault, texts are stripped and checked by one declaration, and a Struct's JSON Schema is
what /openapi.json shows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec
import pytest
from msgspec import Meta

from hub.errors import BadRequest
from hub.shapes import (
    DISTINCT,
    Body,
    Date,
    Id,
    MaybeShortText,
    Title,
    Words,
    convert,
    decode,
    parameters,
    schemas,
)


class Rule(Body):
    event: Literal["signed", "replied"]
    points: Annotated[int, Meta(ge=0, le=100)]
    on: date | None = None


class Form(Body):
    meeting_id: Id
    title: Title
    note: MaybeShortText | None = None
    ids: Annotated[list[Id], Meta(extra=DISTINCT)] = msgspec.field(default_factory=list)
    rules: list[Rule] = msgspec.field(default_factory=list)


class Search(Body):
    q: Words | None = None
    start: Date | None = msgspec.field(default=None, name="from")
    limit: Annotated[int, Meta(ge=1, le=500)] = 100
    order: Literal["oldest", "newest"] = "oldest"


def _refused(raw: bytes) -> dict[str, object]:
    with pytest.raises(BadRequest) as e:
        decode(raw, Form)
    return e.value.as_dict()


def test_a_good_body_is_decoded_with_its_texts_stripped() -> None:
    """Texts lose the blanks around them; absent optional fields take their defaults."""
    got = decode(b'{"meeting_id": 3, "title": "  \\u4f1a\\u8bae  ", "note": " n "}', Form)
    assert (got.meeting_id, got.title, got.note, got.ids) == (3, "会议", "n", [])


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b'{"title": "t"}', "meeting_id", "missing `meeting_id`"),
        (b'{"meeting_id": "3", "title": "t"}', "meeting_id", "must be int"),
        (b'{"meeting_id": true, "title": "t"}', "meeting_id", "must be int"),
        (b'{"meeting_id": 0, "title": "t"}', "meeting_id", "at least 1"),
        (b'{"meeting_id": 9223372036854775808, "title": "t"}', "meeting_id", "at most"),
        (b'{"meeting_id": 1, "title": "   "}', "title", "blank"),
        (b'{"meeting_id": 1, "title": "a\\u0000b"}', "title", "NUL"),
        (b'{"meeting_id": 1, "title": "' + b"x" * 301 + b'"}', "title", "at most 300"),
        (b'{"meeting_id": 1, "title": "t", "note": "\\u0000"}', "note", "NUL"),
        (b'{"meeting_id": 1, "title": "t", "ids": [1, 1]}', "ids", "twice"),
        (b'{"meeting_id": 1, "title": "t", "ids": [1, -1]}', "ids[1]", "at least 1"),
        (b'{"meeting_id": 1, "title": "t", "rules": [{"points": 1}]}', "rules[0].event", "missing"),
        (
            b'{"meeting_id": 1, "title": "t", "rules": [{"event": "x", "points": 1}]}',
            "rules[0].event",
            "one of replied, signed",
        ),
        (
            b'{"meeting_id": 1, "title": "t", "rules": [{"event": "signed", "points": 1, "on": "2026-13-01"}]}',
            "rules[0].on",
            "a date like 2026-03-01",
        ),
    ],
)
def test_a_bad_field_is_named(raw: bytes, field: str, words: str) -> None:
    """Each misfit is a bad_request whose `field` is the path of the value at fault and
    whose message names it and says what it must be."""
    err = _refused(raw)
    assert (err["code"], err["field"]) == ("bad_request", field), err
    assert f"`{field}`" in str(err["message"]) and words in str(err["message"]), err


def test_a_body_that_is_no_object_says_so() -> None:
    """Malformed JSON, a JSON array and nesting past msgspec's bound (even in a field the
    shape ignores) are refused with a message and no field."""
    assert "not valid JSON" in str(_refused(b"{")["message"])
    err = _refused(b"[1]")
    assert "field" not in err and "JSON object" in str(err["message"])
    assert "missing `meeting_id`" in str(_refused(b"")["message"])  # empty body: {}
    deep = b'{"meeting_id": 1, "title": "t", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "too deeply" in str(_refused(deep)["message"])


def test_query_parameters_are_converted_from_strings() -> None:
    """Query strings become typed values; an empty one counts as absent; a bad one (a date
    outside 2000-2100 too) names the parameter as the query spells it."""
    got = convert({"q": " a b ", "limit": "7", "order": "", "from": "2026-03-01"}, Search)
    assert (got.q, got.limit, got.order, str(got.start)) == ("a b", 7, "oldest", "2026-03-01")
    for bad, name in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"order": "z"}, "order"),
                      ({"from": "1999-12-31"}, "from"), ({"from": "2026-02-30"}, "from")):  # fmt: skip
        with pytest.raises(BadRequest) as e:
            convert(bad, Search)
        assert e.value.extra["field"] == name


def test_the_schema_is_the_declaration() -> None:
    """The JSON Schema carries the limits the decoder applies, and query parameters are one
    per field, absent rather than null."""
    _, components = schemas([Form, Search])
    title = components["Form"]["properties"]["title"]
    assert (title["minLength"], title["maxLength"]) == (1, 300)
    assert components["Form"]["required"] == ["meeting_id", "title"]
    params = {p["name"]: p for p in parameters(components["Search"])}
    assert params["q"]["schema"]["maxLength"] == 100 and "anyOf" not in params["q"]["schema"]
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_body_with_checks_of_its_own_keeps_the_texts_checks() -> None:
    """A request shape that adds checks of its own (``__post_init__``) runs Body's first:
    without them a NUL in its text reaches the database (a 500 on PostgreSQL)."""
    import inspect

    import hub.app  # noqa: F401  (every API module, so every shape, is imported)
    from hub.shapes import Body

    own = [c for c in _subclasses(Body) if "__post_init__" in c.__dict__]
    assert own, "no shape adds checks: this test looks at nothing"
    for c in own:
        source = inspect.getsource(c.__dict__["__post_init__"])
        assert "super().__post_init__()" in source, f"{c.__module__}.{c.__name__}"
        with pytest.raises(BadRequest):  # and a NUL is refused for it too
            fields = {f: "\x00" for f, filled in _rules_of(c) if not filled}
            if not fields:
                raise BadRequest("no free text")
            msgspec.convert(fields, c, strict=False)


def _rules_of(c: type) -> tuple[tuple[str, bool], ...]:
    from hub.shapes import _rules

    return _rules(c)[0]
