"""Tables of the user's own next to IDC's: every kind of data ``register_table`` takes, joined
with the real v25 index, and every refusal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from idc_index import ReadOnlySQLError, TableRegistrationError, UnknownTableError

JOIN = (
    "SELECT l.label, i.collection_id FROM {table} l JOIN index i "
    "ON l.SeriesInstanceUID = i.SeriesInstanceUID ORDER BY l.label"
)


@pytest.fixture(scope="module")
def uids(client) -> list[str]:
    rows = client.sql(
        "SELECT SeriesInstanceUID, collection_id FROM index WHERE collection_id IN ('nsclc_radiomics', 'rider_pilot') "
        "ORDER BY SeriesInstanceUID LIMIT 3"
    ).to_pylist()
    return [r["SeriesInstanceUID"] for r in rows]


@pytest.fixture(scope="module")
def expected(client, uids) -> list[dict]:
    collections = {
        r["SeriesInstanceUID"]: r["collection_id"]
        for r in client.sql(
            "SELECT SeriesInstanceUID, collection_id FROM index WHERE SeriesInstanceUID IN ("
            + ", ".join(f"'{u}'" for u in uids)
            + ")"
        ).to_pylist()
    }
    return [{"label": f"label-{n}", "collection_id": collections[u]} for n, u in enumerate(uids)]


def labels(uids: list[str]) -> dict[str, list[str]]:
    return {"SeriesInstanceUID": uids, "label": [f"label-{n}" for n in range(len(uids))]}


def kinds(uids: list[str], tmp_path: Path) -> dict[str, object]:
    table = pa.table(labels(uids))
    pq.write_table(table, tmp_path / "labels.parquet")
    pd.DataFrame(labels(uids)).to_csv(tmp_path / "labels.csv", index=False)
    return {
        "pandas": pd.DataFrame(labels(uids)),
        "polars": pl.DataFrame(labels(uids)),
        "pyarrow_table": table,
        "record_batch_reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        "c_stream_only": _CStreamOnly(table),
        "parquet_path": tmp_path / "labels.parquet",
        "csv_path_str": str(tmp_path / "labels.csv"),
    }


class _CStreamOnly:
    """An object that implements only the Arrow PyCapsule stream protocol."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)


@pytest.mark.parametrize(
    "kind",
    ["pandas", "polars", "pyarrow_table", "record_batch_reader", "c_stream_only", "parquet_path", "csv_path_str"],
)
def test_every_kind_joins_the_index(client, uids, expected, tmp_path: Path, kind: str) -> None:
    name = f"my_{kind}"
    client.register_table(name, kinds(uids, tmp_path)[kind])
    try:
        assert client.sql(JOIN.format(table=name)).to_pylist() == expected
        assert client.sql_query(f"SELECT COUNT(*) AS n FROM {name}")["n"][0] == len(uids)
    finally:
        client.unregister_table(name)
    with pytest.raises(UnknownTableError, match="Tables you can query"):
        client.sql(f"SELECT * FROM {name}")


def test_a_name_in_any_case_and_replacing_a_table(client, uids) -> None:
    client.register_table("MyLabels", pd.DataFrame(labels(uids)))
    try:
        assert client.sql("SELECT COUNT(*) AS n FROM mylabels").to_pylist() == [{"n": len(uids)}]
        client.register_table("MyLabels", pd.DataFrame(labels(uids[:1])))
        assert client.sql('SELECT COUNT(*) AS n FROM "MyLabels"').to_pylist() == [{"n": 1}]
    finally:
        client.unregister_table("MyLabels")


def test_a_file_is_a_snapshot_taken_when_registered(client, uids, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    pd.DataFrame(labels(uids)).to_csv(path, index=False)
    client.register_table("snapshot", path)
    try:
        path.write_text("SeriesInstanceUID,label\n")
        assert client.sql("SELECT COUNT(*) AS n FROM snapshot").to_pylist() == [{"n": len(uids)}]
    finally:
        client.unregister_table("snapshot")


@pytest.mark.parametrize("name", ["index", "IDC_INDEX", "collections_index", "sm_instance_index", "ct_index"])
def test_index_names_are_refused(client, uids, name: str) -> None:
    # installed or optional, in any case
    with pytest.raises(TableRegistrationError, match="is the name of the IDC index"):
        client.register_table(name, pd.DataFrame(labels(uids)))
    assert client.sql("SELECT COUNT(*) AS n FROM collections_index").to_pylist()[0]["n"] > 100


def test_what_is_not_a_table_is_refused(client, uids, tmp_path: Path) -> None:
    with pytest.raises(TableRegistrationError, match="takes a pandas or polars DataFrame"):
        client.register_table("t", labels(uids))
    with pytest.raises(TableRegistrationError, match="neither a .parquet nor a .csv file"):
        client.register_table("t", tmp_path / "labels.xlsx")
    with pytest.raises(TableRegistrationError, match="is not a file"):
        client.register_table("t", tmp_path / "missing.parquet")
    not_parquet = tmp_path / "bad.parquet"
    not_parquet.write_text("SeriesInstanceUID,label\n")
    with pytest.raises(TableRegistrationError, match="could not be read as a parquet file"):
        client.register_table("t", not_parquet)
    with pytest.raises(TableRegistrationError, match="non-empty string"):
        client.register_table(" ", pd.DataFrame(labels(uids)))
    assert "t" not in client._engine.user_table_names()


def test_removing_what_is_not_yours_is_refused(client) -> None:
    with pytest.raises(TableRegistrationError, match="only tables registered with register_table"):
        client.unregister_table("index")
    with pytest.raises(TableRegistrationError, match="no table named nothing_here was registered"):
        client.unregister_table("nothing_here")


def test_sql_still_cannot_write_or_read_files(client, uids, tmp_path: Path) -> None:
    client.register_table("mine", pd.DataFrame(labels(uids)))
    try:
        with pytest.raises(ReadOnlySQLError, match="read-only"):
            client.sql("INSERT INTO mine VALUES ('x', 'y')")
        pq.write_table(pa.table(labels(uids)), tmp_path / "labels.parquet")
        with pytest.raises(UnknownTableError, match="Tables you can query: .*mine"):
            client.sql(f"SELECT * FROM '{tmp_path / 'labels.parquet'}'")
    finally:
        client.unregister_table("mine")
