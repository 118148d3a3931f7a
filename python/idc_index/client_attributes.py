"""The attributes of :class:`~idc_index.IDCClient` that idc-index 0.13 had and that are made on
first access here: each queryable index as a pandas DataFrame (``client.index``,
``client.sm_index``, None for an index that is not fetched), ``collection_summary``,
``prior_versions_index_path`` and ``s5cmdPath``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idc_index.query.sql import ident

if TYPE_CHECKING:
    import pandas as pd

    from idc_index import _core
    from idc_index.releases.catalog import Catalog


class AttributeTables:
    """0.13's DataFrame attributes, loaded on first access and kept (they cost what they cost
    in 0.13: about 0.8 GB for the main index)."""

    _catalog: Catalog
    _engine: _core.Engine

    if TYPE_CHECKING:

        def sql_query(self, sql_query: str, params: Any = None) -> pd.DataFrame: ...

    def __dir__(self) -> list[str]:
        # The indices that are queryable are attributes too.
        names = set(super().__dir__())
        if "_engine" in self.__dict__:
            names.update(n for n in self._catalog.indices if n in self._engine.table_names())
        names.add("collection_summary")
        return sorted(names)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        catalog = self.__dict__.get("_catalog")
        if catalog is not None and name in catalog.indices:
            if name not in self._engine.table_names():
                return None
            frame = self.sql_query(f"SELECT * FROM {ident(name)}")
            setattr(self, name, frame)
            return frame
        if name == "collection_summary":
            frame = self.sql_query(
                "SELECT collection_id, array_agg(DISTINCT Modality) AS Modality, "
                "SUM(series_size_MB) AS series_size_MB FROM index GROUP BY collection_id ORDER BY collection_id"
            ).set_index("collection_id")
            setattr(self, name, frame)
            return frame
        if name == "s5cmdPath":
            # 0.13 ran the s5cmd binary, and tools log its path (3D Slicer's IDC browser does, as
            # it starts). Downloads do not use it: it is the s5cmd on PATH, if any, else "".
            import shutil

            return shutil.which("s5cmd") or ""
        if name == "prior_versions_index_path":
            entry = catalog.indices.get("prior_versions_index") if catalog else None
            return str(entry.path) if entry and entry.path else None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


__all__ = ["AttributeTables"]
