"""How the objects a user holds show themselves: text cells and small HTML tables for the
notebook reprs (``_repr_html_``), every value escaped and clipped, every table bounded.

Example:
    >>> fields_table("Plan", [("series", "3"), ("destination", "<data>")])
    '<div class="idc-index"><table><caption>Plan</caption><tbody><tr><th>series</th><td>3</td></tr><tr><th>destination</th><td>&lt;data&gt;</td></tr></tbody></table></div>'
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from idc_index.arguments import shorten

#: The most characters of one value shown in a cell (text) and in an HTML cell.
TEXT_CELL = 24
HTML_CELL = 120

_CONTROL = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def cell_text(value: object, limit: int = TEXT_CELL) -> str:
    """``value`` on one line of at most ``limit`` characters (start and end kept)."""
    if value is None:
        text = "None"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (bytes, bytearray)):
        text = repr(bytes(value[: 2 * limit]))
    else:
        text = value if isinstance(value, str) else str(value)
        if len(text) > 4 * limit:  # a huge value is cut before it is looked at
            text = text[: 2 * limit] + text[-2 * limit :]
        text = text.translate(_CONTROL)
    return shorten(text, limit)


def is_number(value: object) -> bool:
    """A number to align right (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def escape(value: object, limit: int = HTML_CELL) -> str:
    """``value`` as HTML text: clipped to ``limit`` characters, then escaped."""
    return html.escape(shorten(str(value), limit))


def fields_table(caption: str, fields: Sequence[tuple[str, str]]) -> str:
    """A two-column HTML table of ``(name, value)`` pairs under ``caption``, all escaped."""
    rows = "".join(f"<tr><th>{escape(name)}</th><td>{escape(value, 4 * HTML_CELL)}</td></tr>" for name, value in fields)
    return f'<div class="idc-index"><table><caption>{escape(caption)}</caption><tbody>{rows}</tbody></table></div>'


def rows_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], caption: str | None = None, note: str | None = None
) -> str:
    """An HTML table of ``rows`` under ``header`` (numbers aligned right), with an optional
    ``caption`` and a ``note`` below it; every value clipped and escaped. The caller bounds the
    number of rows and columns."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td style="text-align: right">{escape(cell_text(v, HTML_CELL))}</td>'
            if is_number(v)
            else f"<td>{escape(cell_text(v, HTML_CELL))}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    top = f"<caption>{escape(caption, 4 * HTML_CELL)}</caption>" if caption else ""
    bottom = f"<p>{escape(note, 4 * HTML_CELL)}</p>" if note else ""
    return (
        f'<div class="idc-index"><table>{top}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{bottom}</div>"
    )


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], limit: int = TEXT_CELL) -> list[str]:
    """Lines of a plain-text table of ``rows`` under ``header``: each value clipped to
    ``limit`` characters, numbers aligned right. The caller bounds rows and columns."""
    cells = [[cell_text(v, limit) for v in row] for row in rows]
    names = [cell_text(name, limit) for name in header]
    widths = [max([len(names[i])] + [len(r[i]) for r in cells]) for i in range(len(names))]
    right = [
        any(is_number(row[i]) for row in rows) and all(is_number(row[i]) or row[i] is None for row in rows)
        for i in range(len(names))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    return [line(names), *(line(r) for r in cells)]


__all__ = ["cell_text", "escape", "fields_table", "rows_table", "text_table"]
