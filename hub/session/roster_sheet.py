"""Reading a roster file (名册): a CSV or an XLSX workbook, into the rows under its header.

What a congress already has is a spreadsheet; this module turns its bytes into
:class:`Sheet`: the columns it recognised (by their Chinese or English headers, see
:data:`COLUMNS`), the ones it did not, and each data row as ``{column: text}`` with the
row number a spreadsheet shows. It knows nothing of accounts: checking the rows and
importing them is :mod:`hub.session.roster`.

* **Format** is told by the bytes, not the file name: a ZIP (``PK``) is an XLSX workbook,
  read with openpyxl (read-only, values not formulas); an OLE file is an old ``.xls`` (or
  an encrypted workbook), refused with a hint to save it as ``.xlsx``; anything else is CSV.
* **CSV encoding**: UTF-8 with or without a BOM, UTF-16 with a BOM (Excel's "Unicode
  text"), otherwise GB18030 (a superset of GBK, what Excel in China saves as "CSV");
  the delimiter is the one of comma, tab or semicolon the header line uses most.
* **Header**: the first of the first :data:`HEADER_SCAN` rows that names both the
  username and the name column (a title row above it is skipped). A header is matched
  without spaces, ``*`` marks and a bracketed note (``手机（选填）`` is ``手机``).
* **Cells** become stripped text; a number Excel stores for a phone (``13905801234`` or
  ``1.3905801234E10``) becomes its digits.

A file that cannot be read as a roster is ``bad_request`` with ``field: "file"`` and a
``reason`` (``roster_format``, ``roster_unreadable``, ``roster_encoding``,
``roster_no_header``, ``roster_duplicate_column``, ``roster_no_rows``,
``roster_too_many_rows``), from which the pages build their text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.errors import BadRequest

MAX_BYTES = 5 * 1024 * 1024
"""The largest roster file accepted (a 5,000-row XLSX is about 300 KB)."""
MAX_ROWS = 5000
"""The most data rows one import takes (a province's congress has under 1,000 deputies)."""
MAX_COLUMNS = 50
HEADER_SCAN = 10
MAX_UNZIPPED = 20 * 1024 * 1024  # what an XLSX's parts may declare, unpacked, in all
MAX_CELL = 1000  # characters kept of a cell (longer ones are refused by the checks)

# Each column the import reads, and the headers that name it (compared after _norm).
COLUMNS: dict[str, tuple[str, ...]] = {
    "username": ("用户名", "账号", "帐号", "登录名", "登录账号", "username", "account", "login"),
    "name": ("姓名", "代表姓名", "名字", "name"),
    "role": ("角色", "身份", "账号类型", "role"),
    "delegation": ("代表团", "所属代表团", "delegation"),
    "unit": ("单位", "承办单位", "所属单位", "单位名称", "unit"),
    "phone": ("手机", "手机号", "手机号码", "移动电话", "联系电话", "phone", "mobile"),
    "preferred_contact": (
        "首选联系方式",
        "联系方式",
        "preferredcontact",
        "preferred_contact",
        "contact",
    ),
    "participates": ("参加会议", "参会", "是否参会", "participates", "attending"),
}
# Columns recognised and left out on purpose: a password in a spreadsheet that travels
# by e-mail is a leaked password; new accounts get theirs from an admin.
IGNORED: dict[str, tuple[str, ...]] = {
    "password": ("密码", "初始密码", "登录密码", "password", "initialpassword"),
}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _text(v: object) -> str:
    """A cell's text on one line: control characters (a line break typed in a cell, a NUL
    no database column takes) become one space."""
    return _CONTROL.sub(" ", str(v)).strip()


def _norm(header: str) -> str:
    h = re.sub(r"[（(【\[].*?[)）】\]]", "", header)
    h = re.sub(r"[\s\u3000*＊:：]", "", h)
    return h.lower()


_ALIASES = {_norm(a): col for col, names in COLUMNS.items() for a in names}
_IGNORED = {_norm(a): col for col, names in IGNORED.items() for a in names}


@dataclass
class Sheet:
    """A roster file as read: its recognised columns and its data rows."""

    format: str  # "csv" | "xlsx"
    encoding: str | None  # the CSV's encoding; None for a workbook
    sheet: str | None  # the worksheet read; None for a CSV
    header_row: int  # 1-based, as the spreadsheet numbers it
    columns: dict[str, str]  # column -> its header as written in the file
    unknown: list[str] = field(default_factory=list)  # headers not recognised
    ignored: list[str] = field(default_factory=list)  # recognised and not imported
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, cells)


FILE_REASONS = (
    "roster_empty",
    "roster_format",
    "roster_unreadable",
    "roster_encoding",
    "roster_no_header",
    "roster_duplicate_column",
    "roster_no_rows",
    "roster_too_many_rows",
)
"""The ``reason`` of each ``bad_request`` about the file: the pages have a text
``bad_request.<reason>`` for each (``tests/test_error_texts.py``)."""


def _bad(reason: str, message: str, **params: Any) -> BadRequest:
    assert reason in FILE_REASONS, reason
    return BadRequest(message, field="file", reason=reason, **params)


def read_sheet(data: bytes) -> Sheet:
    """The roster in ``data`` (the bytes of a CSV or XLSX file); ``bad_request`` with a
    ``reason`` when it cannot be read as one. CPU-bound: call it in a thread."""
    if not data.strip():
        raise _bad("roster_empty", "the file is empty")
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _bad(
            "roster_format",
            "this is an old Excel .xls (or an encrypted) workbook: save it as .xlsx or CSV",
        )
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _bad("roster_format", "this is neither a CSV nor an XLSX file")
    return _read_csv(data)


# -- CSV --------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise _bad("roster_encoding", "the file's UTF-16 text is broken") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise _bad(
            "roster_encoding", "the CSV is neither UTF-8 nor GBK/GB18030: save it as CSV (UTF-8)"
        ) from None


def _read_csv(data: bytes) -> Sheet:
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError:
        raise _bad("roster_encoding", "the CSV's text cannot be decoded") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",\t;", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = ((n, row) for n, row in enumerate(reader, 1))
        return _from_rows(rows, "csv", encoding, None)
    except csv.Error as e:
        raise _bad("roster_unreadable", f"the CSV cannot be read: {e}") from None


# -- XLSX -------------------------------------------------------------------------------


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e18 else repr(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)


def _read_xlsx(data: bytes) -> Sheet:
    import openpyxl  # a large import, needed only by an upload

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNZIPPED:
                raise _bad("roster_unreadable", "the workbook unpacks to too much data")
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except BadRequest:
        raise
    except Exception as e:  # a broken ZIP, a workbook openpyxl cannot parse
        raise _bad(
            "roster_unreadable", f"the workbook cannot be read: {type(e).__name__}"
        ) from None
    try:
        first: BadRequest | None = None
        for ws in wb.worksheets:
            rows = (
                (n, [_cell(v) for v in row])
                for n, row in enumerate(
                    ws.iter_rows(max_col=MAX_COLUMNS, values_only=True),
                    1,
                )
            )
            try:
                return _from_rows(rows, "xlsx", None, ws.title)
            except BadRequest as e:  # this sheet has no roster: try the next one
                if first is None:
                    first = e
                if e.extra.get("reason") != "roster_no_header":
                    raise
        raise first or _bad("roster_no_header", "the workbook has no worksheet")
    except BadRequest:
        raise
    except Exception as e:
        raise _bad(
            "roster_unreadable", f"the workbook cannot be read: {type(e).__name__}"
        ) from None
    finally:
        wb.close()


# -- the rows under the header ------------------------------------------------------------


def _from_rows(rows: Any, fmt: str, encoding: str | None, sheet_name: str | None) -> Sheet:
    """Find the header among the first rows, then collect the data rows under it."""
    header: list[str] | None = None
    header_row = 0
    for n, row in rows:
        cells = [_text(c) for c in row[:MAX_COLUMNS]]
        found = {_ALIASES.get(_norm(c)) for c in cells}
        if {"username", "name"} <= found:
            header, header_row = cells, n
            break
        if n >= HEADER_SCAN:
            break
    if header is None:
        raise _bad(
            "roster_no_header",
            f"no header row in the first {HEADER_SCAN} rows names both 用户名 and 姓名",
            rows=HEADER_SCAN,
        )
    positions: dict[str, int] = {}
    columns: dict[str, str] = {}
    unknown: list[str] = []
    ignored: list[str] = []
    for i, h in enumerate(header):
        if not h:
            continue
        col = _ALIASES.get(_norm(h))
        if col is None:
            (ignored if _norm(h) in _IGNORED else unknown).append(h)
            continue
        if col in positions:
            raise _bad(
                "roster_duplicate_column",
                f"two columns name the same thing: {columns[col]!r} and {h!r}",
                column=h,
                first=columns[col],
            )
        positions[col] = i
        columns[col] = h
    out = Sheet(fmt, encoding, sheet_name, header_row, columns, unknown, ignored)
    for n, row in rows:
        data = {
            col: _text(row[i])[: MAX_CELL + 1] if i < len(row) else ""
            for col, i in positions.items()
        }
        if not any(data.values()):
            continue  # a blank line, or a row of only unknown columns
        if len(out.rows) >= MAX_ROWS:
            raise _bad(
                "roster_too_many_rows", f"more than {MAX_ROWS} rows: split the file", max=MAX_ROWS
            )
        out.rows.append((n, data))
    if not out.rows:
        raise _bad("roster_no_rows", "no rows under the header")
    return out
