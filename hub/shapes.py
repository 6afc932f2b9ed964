"""The shapes of the HTTP API's requests and answers, each declared once.

A request body, a set of query parameters or an answer is a :class:`msgspec.Struct`;
from that one declaration come both the checks a request goes through (:func:`decode`,
:func:`convert`) and its part of ``/openapi.json`` (:func:`schemas`). The kinds of value
the API takes are declared here once, with their limits:

* an **id** (:data:`Id`): an integer from 1 to 2**63 - 1 (the database's BIGINT), never
  a boolean (:mod:`hub.params` holds the same rule for ids written in a query);
* a **text** (:data:`Title`, :data:`Text`, :data:`ShortText` …): a string without NUL
  characters, stripped of the blanks around it, not blank unless its type says it may be
  (the ``Maybe…`` ones), at most so many characters (counted before stripping);
* a **list of ids** marked :data:`DISTINCT`: no id twice.

What only the data can tell (does this meeting exist, may this person act now) stays in
the session workflows. A request that does not fit its shape is a :class:`BadRequest`
whose ``field`` is the path of the offending value (``title``, ``rules[0].event``), from
which the pages build their own text, and whose message says what the value must be.

Stripping, blanks, NUL and repeats are checked by :class:`Body` after decoding, as a
field's ``Meta(extra=…)`` asks; the JSON Schema shows the same rules as patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from hub.errors import BadRequest
from hub.params import FIRST_DAY, LAST_DAY, MAX_ID

# A text holds no NUL (PostgreSQL cannot store it); a filled one has a character besides
# blanks. :class:`Body` checks both once it has stripped the text (faster than msgspec's
# regular expressions); the patterns only show the rule in the JSON Schema.
NO_NUL = r"^[^\x00]*$"
FILLED = r"^\s*[^\s\x00][^\x00]*$"
KIND = r"^[a-z][a-z0-9_.\-]{0,63}$"  # a message's kind
_PATTERNS = {
    NO_NUL: "must not contain NUL characters",
    KIND: "must be a lowercase name of 1-64 characters (letters, digits, _ . -)",
}
FILLED_TEXT = {"text": "filled"}
ANY_TEXT = {"text": "any"}
_FILLED = {"pattern": FILLED}
_NO_NUL = {"pattern": NO_NUL}
DISTINCT = {"distinct": True}

Id = Annotated[int, Meta(ge=1, le=MAX_ID, description="an id")]
"""A row's id."""

Title = Annotated[
    str, Meta(min_length=1, max_length=300, extra_json_schema=_FILLED, extra=FILLED_TEXT)
]
"""A title or a short name: 1-300 characters, not blank."""
MaybeTitle = Annotated[str, Meta(max_length=300, extra_json_schema=_NO_NUL, extra=ANY_TEXT)]
"""A short text that may be left empty: at most 300 characters."""
Label = Annotated[str, Meta(max_length=100, extra_json_schema=_NO_NUL, extra=ANY_TEXT)]
"""A label (a device's name) that may be left empty: at most 100 characters."""
Text = Annotated[
    str, Meta(min_length=1, max_length=20_000, extra_json_schema=_FILLED, extra=FILLED_TEXT)
]
"""A message's text: 1-20,000 characters, not blank."""
MaybeText = Annotated[str, Meta(max_length=20_000, extra_json_schema=_NO_NUL, extra=ANY_TEXT)]
"""A text that may be left empty: at most 20,000 characters."""
ShortText = Annotated[
    str, Meta(min_length=1, max_length=2_000, extra_json_schema=_FILLED, extra=FILLED_TEXT)
]
"""A reason or a note: 1-2,000 characters, not blank."""
MaybeShortText = Annotated[str, Meta(max_length=2_000, extra_json_schema=_NO_NUL, extra=ANY_TEXT)]
"""A reason or a note that may be left empty: at most 2,000 characters."""
Verbatim = Annotated[str, Meta(pattern=NO_NUL)]
"""A string taken as sent, nothing stripped (a username, a password, a path): no NUL."""
Words = Annotated[
    str,
    Meta(
        max_length=100,
        extra_json_schema=_NO_NUL,
        extra=ANY_TEXT,
        description="words (space-separated, all must match)",
    ),
]
"""Search words: at most 100 characters."""
Timestamp = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]
"""An instant, sent as ISO 8601 with its zone."""
Instant = Annotated[
    str,
    Meta(
        max_length=64,
        description="an ISO-8601 timestamp with a zone, e.g. 2026-03-01T09:00:00+08:00",
        extra_json_schema={"format": "date-time"},
    ),
]
"""An instant as a request gives it (``hub.session.common.parse_ts`` reads it)."""
Day = Annotated[str, Meta(extra_json_schema={"format": "date"})]
"""A calendar day, ``YYYY-MM-DD``."""
Date = Annotated[
    date,
    Meta(
        extra={"day": "in range"},
        description=f"a date from {FIRST_DAY} to {LAST_DAY}",
    ),
]
"""A calendar day in a request, ``YYYY-MM-DD``, from FIRST_DAY to LAST_DAY (so its local
midnight and the day after it are representable)."""
Limit = Annotated[int, Meta(ge=1, le=500, description="how many at most; default 100")]
"""A page's size."""
Offset = Annotated[int, Meta(ge=0, le=2**62, description="how many to skip; default 0")]
"""How many rows a page skips."""


class Shape(msgspec.Struct, kw_only=True):
    """An answer (or a part of one): what the API sends."""


class Named(Shape):
    """A person, unit or delegation: its id and name."""

    id: int
    name: str


class Body(msgspec.Struct, kw_only=True):
    """A request body or a set of query parameters: unknown fields are ignored; after
    decoding, text fields (``Meta(extra=FILLED_TEXT or ANY_TEXT)``) are stripped and
    checked, lists marked :data:`DISTINCT` are checked for repeats and :data:`Date` fields
    for their range."""

    def __post_init__(self) -> None:
        texts, distinct, days = _RULES.get(type(self)) or _rules(type(self))
        for name, filled in texts:
            v = getattr(self, name)
            if v is None:
                continue
            s = v.strip()
            if filled and not s:
                raise BadRequest(f"`{name}` must not be blank", field=name)
            if "\x00" in s:
                raise BadRequest(f"`{name}` must not contain NUL characters", field=name)
            if s is not v:
                setattr(self, name, s)
        for name in distinct:
            v = getattr(self, name)
            if v is not None and len(set(v)) != len(v):
                raise BadRequest(f"`{name}` must not hold the same id twice", field=name)
        for name, shown in days:
            v = getattr(self, name)
            if v is not None and not FIRST_DAY <= v <= LAST_DAY:
                raise BadRequest(
                    f"`{shown}` must be a date between {FIRST_DAY} and {LAST_DAY}", field=shown
                )


_Rules = tuple[tuple[tuple[str, bool], ...], tuple[str, ...], tuple[tuple[str, str], ...]]
_RULES: dict[type, _Rules] = {}


def _rules(cls: type[Body]) -> _Rules:
    """``cls``'s text fields (each with whether it must be filled), its lists of distinct
    ids and its dates (each with its name in the request)."""
    texts: list[tuple[str, bool]] = []
    distinct: list[str] = []
    days: list[tuple[str, str]] = []
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    for f in info.fields:
        for extra in _extras(f.type):
            if "text" in extra:
                texts.append((f.name, extra["text"] == "filled"))
            if extra.get("distinct"):
                distinct.append(f.name)
            if "day" in extra:
                days.append((f.name, f.encode_name))
    got = _RULES[cls] = (tuple(texts), tuple(distinct), tuple(days))
    return got


def _extras(t: msgspec.inspect.Type) -> Iterable[dict[str, Any]]:
    """The ``Meta(extra=…)`` of a field's type, through ``| None``."""
    if isinstance(t, msgspec.inspect.UnionType):
        for u in t.types:
            yield from _extras(u)
    elif isinstance(t, msgspec.inspect.Metadata) and t.extra:
        yield t.extra


class Page(Body):
    """A page of a list ordered by id: ``before_id`` (only ids below it: the next page of
    a newest-first list, which a new row does not shift), then ``offset`` and ``limit``."""

    before_id: (
        Annotated[
            Id,
            Meta(
                description="only ids below this one: the next page of a newest-first list "
                "that a new row does not shift (the total still counts every match)"
            ),
        ]
        | None
    ) = None
    limit: Limit = 100
    offset: Offset = 0


def one_or_more(raw: str | None, allowed: tuple[str, ...], name: str) -> tuple[str, ...]:
    """A comma-separated query parameter as a set of ``allowed`` values (empty: any)."""
    got = tuple(dict.fromkeys(s for s in (raw or "").split(",") if s))
    if any(s not in allowed for s in got):
        raise BadRequest(
            f"`{name}` must be one or more (comma-separated) of {', '.join(allowed)}", field=name
        )
    return got


B = TypeVar("B", bound=Body)

_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def decode(raw: bytes, shape: type[B]) -> B:
    """A JSON request body (empty: ``{}``) as ``shape``, or :class:`BadRequest`."""
    dec = _DECODERS.get(shape)
    if dec is None:
        dec = _DECODERS[shape] = msgspec.json.Decoder(shape)
    try:
        got: B = dec.decode(raw or b"{}")
    except msgspec.ValidationError as e:
        raise bad_request(e, shape) from None
    except msgspec.DecodeError as e:
        raise BadRequest(f"body is not valid JSON: {_unprefixed(str(e))}") from None
    except RecursionError:  # msgspec's own bound on nesting, skipped fields included
        raise BadRequest("body nests arrays and objects too deeply") from None
    return got


def convert(values: Mapping[str, str], shape: type[B]) -> B:
    """Query parameters (strings; an empty one counts as absent) as ``shape``, or
    :class:`BadRequest`."""
    try:
        return msgspec.convert({k: v for k, v in values.items() if v != ""}, shape, strict=False)
    except msgspec.ValidationError as e:
        raise bad_request(e, shape) from None


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_TYPE = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_BOUND = re.compile(r"^Expected `(?P<want>[^`]+)` (?P<op>[<>]=?) (?P<n>-?\d+)$")
_LENGTH = re.compile(r"^Expected `(?P<want>[^`]+)` of length (?P<op>[<>]=?) (?P<n>\d+)$")
_REGEX = re.compile(r"^Expected `str` matching regex (?P<re>.*)$", re.S)
_ENUM = re.compile(r"^Invalid enum value ")
_RFC3339 = re.compile(r"^Invalid RFC3339 encoded (?P<kind>date|datetime|time)$")
_LIKE = {
    "date": "a date like 2026-03-01",
    "datetime": "a time with its zone like 2026-03-01T09:00:00+08:00",
    "time": "a time like 09:00:00",
}
_MEASURES = {"str": "characters", "array": "items", "object": "fields"}
_OPS = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than"}


def bad_request(e: msgspec.ValidationError, shape: type) -> BadRequest:
    """msgspec's complaint as our :class:`BadRequest`: ``field`` is the path of the value
    at fault (``title``, ``rules[0].event``) and the message says what it must be."""
    m = _AT.match(str(e))
    assert m is not None  # the pattern matches any text
    what, path = m["what"], (m["path"] or "").lstrip(".")
    if missing := _MISSING.match(what):
        name = f"{path}.{missing['name']}" if path else missing["name"]
        return BadRequest(f"missing `{name}`", field=name)
    if not path:
        if t := _TYPE.match(what):
            return BadRequest(f"body must be a JSON {t['want']}, not {t['got']}")
        return BadRequest(f"body: {what}")
    if t := _TYPE.match(what):
        must = f"must be {t['want']}, not {t['got']}"
    elif b := _BOUND.match(what):
        must = f"must be {_OPS[b['op']]} {b['n']}"
    elif n := _LENGTH.match(what):
        must = f"must hold {_OPS[n['op']]} {n['n']} {_MEASURES.get(n['want'], 'items')}"
    elif r := _REGEX.match(what):
        must = next((t for p, t in _PATTERNS.items() if repr(p) == r["re"]), "has a bad form")
    elif d := _RFC3339.match(what):
        must = f"must be {_LIKE[d['kind']]}"
    elif _ENUM.match(what):
        allowed = _allowed(shape, path)
        must = f"must be one of {', '.join(allowed)}" if allowed else "has no such value"
    else:
        must = f"is wrong: {what}"
    return BadRequest(f"`{path}` {must}", field=path)


def _unprefixed(msg: str) -> str:
    return msg.removeprefix("JSON is malformed: ")


def _allowed(shape: type, path: str) -> list[str]:
    """The values an enum at ``path`` of ``shape`` may take (empty if not found)."""
    t: msgspec.inspect.Type = msgspec.inspect.type_info(shape)
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        t = _bare(t)
        if part.startswith("["):
            if not isinstance(t, msgspec.inspect.ListType):
                return []
            t = t.item_type
        elif isinstance(t, msgspec.inspect.StructType):
            fields = {f.encode_name: f.type for f in t.fields}
            if part not in fields:
                return []
            t = fields[part]
        else:
            return []
    t = _bare(t)
    if isinstance(t, msgspec.inspect.LiteralType):
        return [str(v) for v in t.values]
    if isinstance(t, msgspec.inspect.EnumType):
        return [str(v.value) for v in t.cls]
    return []


def _bare(t: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """``t`` without its metadata and without ``| None``."""
    while True:
        if isinstance(t, msgspec.inspect.Metadata):
            t = t.type
        elif isinstance(t, msgspec.inspect.UnionType):
            rest = [u for u in t.types if not isinstance(u, msgspec.inspect.NoneType)]
            if len(rest) != 1:
                return t
            t = rest[0]
        else:
            return t


# -- the OpenAPI document -----------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """In an API module's ``spec``: the JSON Schema of ``shape`` (a Struct, or a type such
    as ``list[Struct]``), filled in by :func:`schemas` when the document is built."""

    shape: Any


@dataclass(frozen=True)
class Query:
    """In an operation's ``parameters``: one query parameter per field of ``shape``
    (except those ``without``, which the endpoint sets itself)."""

    shape: type[Body]
    without: tuple[str, ...] = ()


REF = "#/components/schemas/{name}"


def schemas(shapes: list[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The JSON Schema of each of ``shapes`` (referring to components) and the components."""
    refs, components = msgspec.json.schema_components(shapes, ref_template=REF)
    return list(refs), components


def parameters(schema: dict[str, Any], without: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The query parameters of a Body's object schema, each with its own schema."""
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        if name in without:
            continue
        prop = dict(prop)
        # A query parameter is absent rather than null.
        kinds = [k for k in prop.pop("anyOf", ()) if k != {"type": "null"}]
        if len(kinds) == 1:
            prop.update(kinds[0])
        elif kinds:
            prop["anyOf"] = kinds
        what = prop.pop("description", None)
        prop.pop("default", None)
        param: dict[str, Any] = {"name": name, "in": "query", "schema": prop}
        if what:
            param["description"] = what
        if name in required:
            param["required"] = True
        out.append(param)
    return out
