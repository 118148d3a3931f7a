"""The SQL that idc-index-data 25.0.5 ships (one ``.sql`` file per index, next to its parquet file),
made runnable by the offline backend, so that the parity tests run both SQLs on the same fixture
through the same DuckDB.

Upstream's files are run as they are, with these adaptations (each must still apply: a newer
upstream file that no longer matches fails the test instead of being compared silently):

* every file: ``ANY_VALUE(x)`` becomes ``MIN(x)``. BigQuery's ANY_VALUE returns any non-NULL value of
  the group; our queries pin that choice to MIN (for repeated fields: the value of the instance with
  the smallest SOPInstanceUID), so on a series whose instances disagree the comparison shows that ours
  is one of the values upstream could have published.
* every file: the final ``ORDER BY`` is dropped (rows are compared by key, not by position;
  DuckDB refuses two of upstream's orderings, which sort by a subquery's alias).
* ``prior_versions_index`` and ``volume_geometry_index`` are BigQuery scripts. For
  ``prior_versions_index`` the test ports the scripted part: the ``FORMAT`` template of step 4 is
  filled in for every release the fixture has (upstream loops over releases 1..25, most of which
  the fixture lacks: an absent release contributes no rows either way) and joined with
  ``UNION ALL``, and that union stands in for the temporary table ``all_versions`` in the final
  statement. For ``volume_geometry_index`` the ``DECLARE``d tolerances are substituted as
  literals, and ``ARRAY_AGG(... ORDER BY slicePosition LIMIT 1)[OFFSET(0)]`` (which sqlglot
  cannot translate) becomes ``ANY_VALUE(... HAVING MIN slicePosition)``, BigQuery's spelling of
  the same choice.
* the other substitutions, one per DuckDB limitation, are listed in ``ADAPTATIONS`` with why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

UPSTREAM_VERSION = "25.0.5"


@dataclass(frozen=True)
class Adaptation:
    old: str
    new: str
    why: str
    count: int = 1  # how many times ``old`` occurs in upstream's file


_TS_ERROR = 'ELSE ERROR(CONCAT("Unmapped TransferSyntaxUID: ", TransferSyntaxUID, ". Please add a mapping."))'

ADAPTATIONS: dict[str, list[Adaptation]] = {
    "idc_index": [
        Adaptation(_TS_ERROR, "ELSE NULL",
                   "DuckDB cannot bind ERROR() inside a DISTINCT aggregate ordered by the same CASE; every "
                   "transfer syntax of the fixture is mapped, so the ERROR branch is never taken", count=2),
    ],
    "sm_index": [
        Adaptation("))) AS INT64))) AS min_PixelSpacing_2sf", "))) AS INT))) AS min_PixelSpacing_2sf",
                   "DuckDB's ROUND takes a 32-bit precision (BigQuery's INT is INT64, sqlglot's INT is 32-bit)"),
    ],
    "volume_geometry_index": [
        Adaptation("WHERE index BETWEEN 0 AND 2", "WHERE index BETWEEN 1 AND 3",
                   "sqlglot turns UNNEST ... WITH OFFSET (0-based) into DuckDB's WITH ORDINALITY (1-based) without "
                   "shifting it (tests/test_transpile_traps.py): unshifted, x_vector would hold IOP[0..1] and y_vector "
                   "IOP[2..4], so every cross product would be NULL"),
        Adaptation("WHERE index BETWEEN 3 AND 5", "WHERE index BETWEEN 4 AND 6",
                   "the same 1-based ordinality, for y_vector (IOP[3..5])"),
    ],
}


def upstream_dir() -> Path:
    import idc_index_data

    return Path(idc_index_data.__file__).parent


def upstream_file(index: str) -> str:
    return (upstream_dir() / f"{index}.sql").read_text(encoding="utf-8")


def upstream_indices() -> list[str]:
    return sorted(p.stem for p in upstream_dir().glob("*.sql"))


def _apply(index: str, sql: str) -> str:
    for a in ADAPTATIONS.get(index, []):
        found = sql.count(a.old)
        assert found == a.count, f"{index}: adaptation {a.old!r} expected {a.count} time(s), found {found}"
        sql = sql.replace(a.old, a.new)
    return sql


def _without_order_by(sql: str) -> str:
    """The query without its final top-level ORDER BY (every upstream file ends with one)."""
    code = sql.rstrip().rstrip(";")
    at = code.rfind("\nORDER BY")
    tail = code[at:]
    assert at > 0 and tail.count("(") == tail.count(")") and "SELECT" not in tail.upper(), tail
    return code[:at] + "\n"


def _prior_versions(sql: str, current: int, releases: tuple[int, ...]) -> str:
    template = re.search(r'FORMAT\("""(?P<body>.*?)"""', sql, re.DOTALL)
    assert template, "prior_versions_index: the FORMAT template of step 4 is gone"
    body = template.group("body")
    assert body.count("%d") == 3, body
    selects = [body.replace("%d", str(v), 2).replace("%d", str(current), 1) for v in (*releases, current)]
    union = "\n UNION ALL \n".join(s.strip().replace("series_size_MB,\n  FROM", "series_size_MB\n  FROM")
                                   for s in selects)
    final = sql[sql.index("WITH versions AS"):]
    assert "FROM all_versions" in final
    return final.replace("FROM all_versions", f"FROM ({union}) AS all_versions", 1)


def _volume_geometry(sql: str) -> str:
    tolerances = dict(re.findall(r"DECLARE (\w+) FLOAT64 DEFAULT ([0-9.]+);", sql))
    assert set(tolerances) == {"relativeSliceTolerance", "inPlaneTolerance", "orientationTolerance"}, tolerances
    body = sql[sql.index("WITH\n"):]
    for name, value in tolerances.items():
        body = re.sub(rf"\b{name}\b", value, body)
    first = re.search(r"ARRAY_AGG\(\s*(?P<struct>STRUCT\(.*?\))\s*ORDER BY slicePosition\s*LIMIT 1\s*\)\[OFFSET\(0\)\]",
                      body, re.DOTALL)
    assert first, "volume_geometry_index: the first slice is no longer chosen by ARRAY_AGG ... LIMIT 1"
    return body[:first.start()] + f"ANY_VALUE({first.group('struct')} HAVING MIN slicePosition)" + body[first.end():]


def upstream_sql(index: str, current: int, releases: tuple[int, ...]) -> str:
    """Upstream's query for ``index``, adapted as the module docstring says: one BigQuery SELECT."""
    sql = re.sub(r"\bANY_VALUE\s*\(", "MIN(", _apply(index, upstream_file(index)), flags=re.IGNORECASE)
    if index == "prior_versions_index":
        sql = _prior_versions(sql, current, releases)
    elif index == "volume_geometry_index":
        sql = _volume_geometry(sql)
    return _without_order_by(sql)


def run_upstream(backend, index: str, current: int, releases: tuple[int, ...]) -> pa.Table:
    return backend.fetch(upstream_sql(index, current, releases))
