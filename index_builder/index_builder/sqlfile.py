"""Query files: loading, rendering for a release, and the column documentation they carry.

Conventions of ``queries/<index>.sql`` (BigQuery Standard SQL):

* Tables are named through placeholders, never a hard-coded release:
  ```{dataset}.dicom_all``` (``bigquery-public-data.idc_v25`` or ``...idc_current``) and
  ```{clinical_dataset}.column_metadata``` (``bigquery-public-data.idc_v25_clinical``).
* A block between ``-- @for-each-prior-release`` and ``-- @end-for-each`` is repeated once per earlier
  release, joined with ``UNION ALL``; inside it ``{release}`` is the release number and
  ``{release_dataset}`` its dataset. The list of releases is known before the query runs, so BigQuery
  scripting (``DECLARE`` / ``EXECUTE IMMEDIATE`` / ``FORMAT('%d')``) is not needed; none of those
  transpile to DuckDB.
* ``-- @table <text>`` describes the index; ``-- @column <name>: <text>`` sits right above the
  expression of each output column, ``-- @column <name>.<field>: <text>`` above each field of a
  struct (or list of structs). Text continues on the following ``--`` lines until a blank line, a
  line that is not a comment, a bare ``--`` or the next ``@`` tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pyarrow as pa

from index_builder.errors import SqlFileError

QUERIES_DIR = Path(str(resources.files("index_builder") / "queries"))

_BLOCK_RE = re.compile(
    r"^[ \t]*--[ \t]*@for-each-prior-release[^\n]*\n(?P<body>.*?)^[ \t]*--[ \t]*@end-for-each[^\n]*\n",
    re.DOTALL | re.MULTILINE,
)
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TAG_RE = re.compile(r"^\s*--\s*@(?P<tag>table|column)\b\s*(?P<rest>.*)$")
_COMMENT_RE = re.compile(r"^\s*--(?P<text>.*)$")
_COLUMN_RE = re.compile(r"^(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*:\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Datasets:
    """Where a release's tables live (same names for BigQuery and the offline DuckDB catalog)."""

    dataset: str
    clinical_dataset: str
    prior_release_datasets: tuple[tuple[int, str], ...] = ()

    @classmethod
    def for_release(cls, version: int | str, prior: tuple[int, ...] = (), project: str = "bigquery-public-data") -> Datasets:
        name = "idc_current" if version == "current" else f"idc_v{int(version)}"
        return cls(
            dataset=f"{project}.{name}",
            clinical_dataset=f"{project}.{name}_clinical",
            prior_release_datasets=tuple((v, f"{project}.idc_v{v}") for v in prior),
        )


def query_path(index: str) -> Path:
    return QUERIES_DIR / f"{index}.sql"


def load(index: str) -> str:
    path = query_path(index)
    if not path.is_file():
        raise SqlFileError(f"no query file for index {index!r}: expected {path}")
    return path.read_text(encoding="utf-8")


def uses_prior_releases(sql: str) -> bool:
    return bool(_BLOCK_RE.search(sql))


def render(sql: str, datasets: Datasets) -> str:
    """Fill the placeholders of a query file for one release."""

    def expand(match: re.Match[str]) -> str:
        if not datasets.prior_release_datasets:
            raise SqlFileError(
                "this query reads every earlier release, but none is available: build it against "
                "BigQuery (releases 1..N-1) or add idc_vNN/ subdirectories to the offline --source"
            )
        body = match.group("body").rstrip().rstrip(";")
        parts = [
            body.replace("{release}", str(v)).replace("{release_dataset}", ds)
            for v, ds in datasets.prior_release_datasets
        ]
        return "\n  UNION ALL\n".join(parts) + "\n"

    out = _BLOCK_RE.sub(expand, sql)
    out = out.replace("{dataset}", datasets.dataset).replace("{clinical_dataset}", datasets.clinical_dataset)
    left = sorted(set(_PLACEHOLDER_RE.findall(out)))
    if left:
        raise SqlFileError(f"unknown placeholder(s) {left} in query; known: dataset, clinical_dataset, "
                           "and release / release_dataset inside a @for-each-prior-release block")
    return out


@dataclass(frozen=True)
class QueryDoc:
    table: str
    columns: dict[str, str]  # "col" or "col.field" -> description


def parse_docs(sql: str) -> QueryDoc:
    """Collect the ``@table`` and ``@column`` comments of a query file."""
    table: list[str] = []
    columns: dict[str, list[str]] = {}
    current: list[str] | None = None
    for lineno, line in enumerate(sql.splitlines(), 1):
        tag = _TAG_RE.match(line)
        if tag:
            rest = tag.group("rest").strip()
            if tag.group("tag") == "table":
                current = table
                current.append(rest)
                continue
            m = _COLUMN_RE.match(rest)
            if not m:
                raise SqlFileError(f"line {lineno}: write '-- @column <name>: <description>', got {line.strip()!r}")
            path = m.group("path")
            if path in columns:
                raise SqlFileError(f"line {lineno}: column {path!r} is documented twice")
            current = columns[path] = [m.group("text").strip()]
            continue
        comment = _COMMENT_RE.match(line)
        if comment and current is not None and comment.group("text").strip():
            current.append(comment.group("text").strip())
        else:
            current = None
    return QueryDoc(
        table=" ".join(t for t in table if t),
        columns={path: " ".join(t for t in buf if t) for path, buf in columns.items()},
    )


def documented_paths(schema: pa.Schema) -> list[str]:
    """Every path that needs a description: top-level columns and the fields of (lists of) structs."""
    paths: list[str] = []

    def walk(prefix: str, typ: pa.DataType) -> None:
        if pa.types.is_list(typ) or pa.types.is_large_list(typ):
            typ = typ.value_type
        if pa.types.is_struct(typ):
            for child in typ:
                paths.append(f"{prefix}.{child.name}")
                walk(f"{prefix}.{child.name}", child.type)

    for f in schema:
        paths.append(f.name)
        walk(f.name, f.type)
    return paths


def check_docs(index: str, doc: QueryDoc, schema: pa.Schema) -> None:
    """Every column and nested field has a description, and nothing else is described."""
    needed = documented_paths(schema)
    missing = [p for p in needed if not doc.columns.get(p)]
    extra = [p for p in doc.columns if p not in needed]
    problems = []
    if not doc.table:
        problems.append("no '-- @table <description>' comment")
    if missing:
        problems.append(f"no '-- @column' description for {missing}")
    if extra:
        problems.append(f"descriptions for columns the index does not have: {extra}")
    if problems:
        raise SqlFileError(f"queries/{index}.sql: " + "; ".join(problems))
