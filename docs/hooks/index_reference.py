"""MkDocs hook: the generated parts of the documentation.

- ``reference/indices.md``: the marker ``<!-- index-reference -->`` is replaced by the reference of
  every index that ``index_builder`` builds: its description, and each column (nested fields too)
  with its Arrow type and description. Types come from the declared schemas in
  ``index_builder/index_builder/indices.py``, descriptions from the ``-- @column`` comments in
  ``index_builder/index_builder/queries/*.sql``, combined by the same code that writes a release's
  ``manifest.json``. The builder in this checkout is used, not an installed copy.
- Pages rendered by mkdocstrings: reStructuredText roles left in docstrings
  (``:meth:`sql```, ``:class:`~idc_index.errors.IDCError```) become code, linked when the page
  documents the target.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- index-reference -->"
INDEX_PAGE = "reference/indices.md"
#: The main index: its file (and manifest key) name, and the table name the client gives it.
MAIN_FILE_STEM = "idc_index"
MAIN_TABLE = "index"


def _builder_modules() -> tuple[Any, Any, Any]:
    sys.path.insert(0, str(ROOT / "index_builder"))
    try:
        from index_builder import indices, manifest, sqlfile
    finally:
        sys.path.remove(str(ROOT / "index_builder"))
    return indices, manifest, sqlfile


def index_reference() -> dict[str, dict[str, Any]]:
    """Every index the builder knows, as its manifest entry would describe it (without the file facts)."""
    indices, manifest, sqlfile = _builder_modules()
    out = {}
    for name, spec in indices.INDICES.items():
        doc = sqlfile.parse_docs(sqlfile.load(name))
        sqlfile.check_docs(name, doc, spec.schema)
        out[name] = {
            "description": doc.table,
            "columns": manifest.column_entries(spec.schema, doc.columns),
            "sort_keys": list(spec.sort_keys),
        }
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def _text(value: str) -> str:
    """Plain text for a markdown table cell."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(value, quote=False))


def _code(value: str) -> str:
    return f"<code>{html.escape(value, quote=False)}</code>"


def _type(column: dict[str, Any]) -> str:
    typ = str(column["type"])
    if column.get("fields"):
        # The children are listed below with their own types.
        return "list&lt;struct&gt;" if typ.startswith(("list", "large_list")) else "struct"
    return _code(typ)


def _rows(columns: list[dict[str, Any]], prefix: str = "") -> list[str]:
    rows = []
    for column in columns:
        path = f"{prefix}{column['name']}"
        rows.append(f"| {_code(path)} | {_type(column)} | {_text(column['description'])} |")
        if column.get("fields"):
            rows.extend(_rows(column["fields"], prefix=f"{path}."))
    return rows


def render_index_reference() -> str:
    parts = []
    for stem, entry in index_reference().items():
        if stem == MAIN_FILE_STEM:
            parts.append(f"## {MAIN_TABLE} ({MAIN_FILE_STEM}) {{#{MAIN_TABLE}}}\n")
            parts.append(f"File `{stem}.parquet`; query it as `{MAIN_TABLE}` or `{MAIN_FILE_STEM}`.\n")
        else:
            parts.append(f"## {stem}\n")
            parts.append(f"File `{stem}.parquet`; query it as `{stem}`.\n")
        parts.append(_text(entry["description"]) + "\n")
        count = len(entry["columns"])
        keys = ", ".join(f"`{k}`" for k in entry["sort_keys"])
        parts.append(f"{count} columns; rows sorted by {keys}.\n" if keys else f"{count} columns.\n")
        parts.append("| column | type | description |\n|---|---|---|")
        parts.append("\n".join(_rows(entry["columns"])) + "\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri == INDEX_PAGE:
        if MARKER not in markdown:
            raise ValueError(f"{INDEX_PAGE} lost its {MARKER} marker")
        markdown = markdown.replace(MARKER, render_index_reference())
    return markdown


_ROLE = re.compile(r":(?:meth|class|func|mod|attr|exc|data|obj):<code>(~?)([\w.]+)</code>")
#: Where a target named without its module is looked for, in order.
_SCOPES = ("", "idc_index.IDCClient.", "idc_index.", "idc_index.errors.", "idc_index.download.")


def on_page_content(content: str, page: Any, config: Any, files: Any) -> str:
    if ":<code>" not in content:
        return content

    def replace(match: re.Match[str]) -> str:
        short, target = match.group(1), match.group(2)
        shown = target.rsplit(".", 1)[-1] if short else target
        for scope in _SCOPES:
            anchor = scope + target
            if f'id="{anchor}"' in content:
                return f'<a href="#{anchor}"><code>{shown}</code></a>'
        return f"<code>{shown}</code>"

    return _ROLE.sub(replace, content)
