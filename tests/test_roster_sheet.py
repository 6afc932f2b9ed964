"""Reading roster files (hub.session.roster_sheet), without a hub: formats, encodings,
headers as congresses write them, and files that are no roster."""

from __future__ import annotations

import codecs
import io
import zipfile

import openpyxl
import pytest

from hub.errors import BadRequest
from hub.session.roster_sheet import MAX_ROWS, read_sheet


def refused(data: bytes) -> dict[str, object]:
    with pytest.raises(BadRequest) as e:
        read_sheet(data)
    assert e.value.extra["field"] == "file"
    return e.value.extra


def test_headers_as_written_with_marks_notes_and_a_title_row() -> None:
    """A title row above the header; ``姓名*``, ``手机（选填）`` and ``账 号`` are the name,
    phone and username columns; a blank line is skipped; the delimiter may be a tab."""
    text = "某市人大代表名册\t\t\n账 号\t姓名*\t手机（选填）\t备注\n\t\t\t\nd1\t王建国\t13905801021\t团长\n"
    s = read_sheet(text.encode("utf-8"))
    assert s.header_row == 2
    assert s.columns == {"username": "账 号", "name": "姓名*", "phone": "手机（选填）"}
    assert s.unknown == ["备注"]
    assert s.rows == [(4, {"username": "d1", "name": "王建国", "phone": "13905801021"})]


def test_utf16_with_bom_as_excel_saves_unicode_text() -> None:
    data = codecs.BOM_UTF16_LE + "用户名\t姓名\nd1\t李秀英\n".encode("utf-16-le")
    s = read_sheet(data)
    assert s.encoding == "utf-16" and s.rows[0][1]["name"] == "李秀英"


def test_xlsx_numbers_become_digits_and_later_sheets_are_searched() -> None:
    """A phone Excel keeps as a number (int or float) is its digits; a first sheet
    without a roster (a cover page) is passed over for the next one; a cell's line break
    becomes a space."""
    wb = openpyxl.Workbook()
    cover = wb.active
    assert cover is not None
    cover.append(["说明：请勿修改表头"])
    ws = wb.create_sheet("名册")
    ws.append(["用户名", "姓名", "手机"])
    ws.append(["d1", "张伟", 13905801021])
    ws.append(["d2", "刘\n芳", 13706802457.0])
    buf = io.BytesIO()
    wb.save(buf)
    s = read_sheet(buf.getvalue())
    assert (s.format, s.sheet) == ("xlsx", "名册")
    assert [c["phone"] for _, c in s.rows] == ["13905801021", "13706802457"]
    assert s.rows[1][1]["name"] == "刘 芳"  # a line break typed in a cell: one line


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "roster_empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "roster_format"),
        (b"%PDF-1.4\x00\x01\x02", "roster_format"),
        (b"PK\x03\x04broken", "roster_unreadable"),
        ("姓名,手机\n王建国,139\n".encode(), "roster_no_header"),
        ("用户名,姓名\n".encode(), "roster_no_rows"),
        ("用户名,姓名,手机,联系电话\nd1,王,1,2\n".encode(), "roster_duplicate_column"),
        (b"\xff\xfe\xff", "roster_encoding"),
    ],
)
def test_what_is_no_roster(data: bytes, reason: str) -> None:
    assert refused(data)["reason"] == reason


def test_too_many_rows() -> None:
    data = ("用户名,姓名\n" + "".join(f"u{i},名{i}\n" for i in range(MAX_ROWS + 1))).encode()
    assert refused(data) == {"field": "file", "reason": "roster_too_many_rows", "max": MAX_ROWS}


def test_a_workbook_that_unpacks_to_too_much_is_not_opened() -> None:
    """The sizes a ZIP declares are checked before openpyxl parses a byte (a zip bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", b" " * (30 * 1024 * 1024))
    assert refused(buf.getvalue())["reason"] == "roster_unreadable"
