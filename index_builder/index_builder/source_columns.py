"""Columns of the source tables that a release may lack.

IDC's DICOM export has a column (or a field of a sequence's records) only if some instance of the release
has that attribute. The indices that idc-index-data publishes read attributes every release has; the
columns this builder adds (pyramid, specimen and optical path details of slide microscopy) read some that
a release may lack. For those, listed in ``OPTIONAL``, a missing column is published as NULL with a
warning instead of failing the release: the query reads the table through a subquery that adds the
column as a typed NULL. Any other missing column fails as the query itself would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: table -> column path ("Sequence.Field" for a field of a sequence's records) -> BigQuery type
OPTIONAL: dict[str, dict[str, str]] = {
    "dicom_all": {
        "PyramidUID": "STRING",
        "PyramidLabel": "STRING",
        "SpecimenDescriptionSequence.SpecimenUID": "STRING",
        "SpecimenDescriptionSequence.SpecimenIdentifier": "STRING",
        "OpticalPathSequence.OpticalPathIdentifier": "STRING",
        "OpticalPathSequence.IlluminationWaveLength": "FLOAT64",
        "OpticalPathSequence.IlluminationColorCodeSequence":
            "ARRAY<STRUCT<CodeValue STRING, CodingSchemeDesignator STRING, CodeMeaning STRING>>",
    },
}

#: record path ("" for the table itself) -> the names of its columns or fields, in order
Layout = dict[str, list[str]]


@dataclass(frozen=True)
class Missing:
    """The optional columns one source table lacks, and the layout of what it has."""

    table: str  # fully qualified: project.dataset.table
    columns: dict[str, str]  # path -> BigQuery type
    layout: Layout

    def subquery(self) -> str:
        """``(SELECT ... FROM `table`)``: the table with each missing column as a typed NULL."""
        top = [p for p in self.columns if "." not in p]
        nested: dict[str, list[str]] = {}
        for path in self.columns:
            if "." in path:
                parent, name = path.split(".", 1)
                nested.setdefault(parent, []).append(name)
        replaced = []
        for parent, names in nested.items():
            present = ", ".join(f"e.`{f}` AS `{f}`" for f in self.layout.get(parent, []))
            added = ", ".join(f"CAST(NULL AS {self.columns[f'{parent}.{n}']}) AS `{n}`"
                              if not self.columns[f"{parent}.{n}"].startswith("ARRAY")
                              else f"CAST([] AS {self.columns[f'{parent}.{n}']}) AS `{n}`" for n in names)
            fields = ", ".join(x for x in (present, added) if x)
            # WITH OFFSET only orders the records as they were (BigQuery keeps no order otherwise)
            replaced.append(f"ARRAY(SELECT AS STRUCT {fields} FROM UNNEST(`{parent}`) AS e WITH OFFSET AS pos "
                            f"ORDER BY pos) AS `{parent}`")
        select = "*" + (f" REPLACE ({', '.join(replaced)})" if replaced else "")
        extra = "".join(f", CAST(NULL AS {self.columns[p]}) AS `{p}`" for p in top)
        return f"(SELECT {select}{extra} FROM `{self.table}`)"

    def fill(self, sql: str) -> str:
        """``sql`` reading the table through :meth:`subquery` if it reads any missing column."""
        roots = {p.split(".", 1)[0] for p in self.columns}
        if not any(re.search(rf"\b{re.escape(r)}\b", sql) for r in roots):
            return sql
        name = self.table.rsplit(".", 1)[1]

        def wrap(m: re.Match[str]) -> str:
            return self.subquery() + (m.group(1) or f" AS {name}")

        return re.sub(rf"`{re.escape(self.table)}`(\s+AS\s+\w+)?", wrap, sql)


def find_missing(layout_of: Callable[[str], Layout], dataset: str, log: Callable[[str], None]) -> list[Missing]:
    """The optional columns each source table of ``dataset`` lacks (a warning logged for each)."""
    found = []
    for table, columns in OPTIONAL.items():
        fqn = f"{dataset}.{table}"
        layout = layout_of(fqn)
        missing = {}
        for path, typ in columns.items():
            parent, _, name = path.rpartition(".")
            if name not in layout.get(parent, []):
                if parent and parent not in layout.get("", []):
                    continue  # the whole sequence is missing: a column every query needs, not optional
                missing[path] = typ
                log(f"warning: {fqn} has no {path} (no instance of this release has it); the indices that read it "
                    "publish NULL for it")
        if missing:
            found.append(Missing(fqn, missing, layout))
    return found
