"""SQL over the real v25 index: results equal DuckDB's on the same parquet file, the DuckDB
habits of idc-index users work, and nothing but queries runs."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from idc_testdata import DATA_PACKAGE_DIR, REAL_INDEX

# Each query is run by idc-index and by DuckDB (tables mapped to read_parquet of the same
# files); rows are compared in order, so every query has a total ORDER BY.
REPRESENTATIVE = [
    "SELECT collection_id, COUNT(*) AS n FROM index GROUP BY collection_id ORDER BY collection_id",
    """SELECT Modality, ROUND(SUM(series_size_MB), 3) AS mb, COUNT(DISTINCT PatientID) AS patients
       FROM index GROUP BY Modality ORDER BY Modality""",
    """SELECT SeriesInstanceUID, StudyInstanceUID, series_size_MB FROM index
       WHERE collection_id = 'nsclc_radiomics' AND Modality = 'CT' ORDER BY SeriesInstanceUID""",
    """SELECT regexp_extract(series_aws_url, 's3://([^/]+)/', 1) AS bucket, COUNT(*) AS n
       FROM index GROUP BY bucket ORDER BY bucket""",
    """SELECT c.collection_id, c.collection_name, COUNT(*) AS series
       FROM index i JOIN collections_index c ON i.collection_id = c.collection_id
       GROUP BY c.collection_id, c.collection_name ORDER BY series DESC, c.collection_id LIMIT 20""",
    "SELECT seriesinstanceuid FROM index WHERE modality = 'SM' ORDER BY 1 LIMIT 25",
    "SELECT DISTINCT(collection_id) FROM index ORDER BY 1",
    "SELECT COUNT(*) AS n FROM index WHERE lower(BodyPartExamined) LIKE '%chest%'",
    "SELECT min_idc_version, max_idc_version, COUNT(*) AS n FROM prior_versions_index GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT MIN(StudyDate) AS first, MAX(StudyDate) AS last, COUNT(*) AS n FROM index WHERE StudyDate IS NOT NULL",
    """SELECT analysis_result_id IS NULL AS original, SUM(instanceCount) AS instances
       FROM index GROUP BY 1 ORDER BY 1""",
    """SELECT PatientID, COUNT(DISTINCT StudyInstanceUID) AS studies FROM index
       WHERE collection_id = 'tcga_luad' GROUP BY PatientID HAVING COUNT(*) > 3 ORDER BY studies DESC, PatientID""",
    """SELECT collection_id, STRING_AGG(DISTINCT Modality ORDER BY Modality) AS modalities
       FROM index GROUP BY collection_id ORDER BY collection_id""",
    """WITH per_study AS (SELECT StudyInstanceUID, COUNT(*) AS n FROM index GROUP BY 1)
       SELECT n, COUNT(*) AS studies FROM per_study GROUP BY n ORDER BY n LIMIT 10""",
    """SELECT analysis_result_id, analysis_result_title FROM analysis_results_index ORDER BY 1""",
    """SELECT idc_version, version_timestamp FROM version_metadata_index ORDER BY idc_version""",
]


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW \"index\" AS SELECT * FROM read_parquet('{REAL_INDEX}')")
    for name in ("prior_versions_index", "collections_index", "analysis_results_index", "version_metadata_index"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{DATA_PACKAGE_DIR / name}.parquet')")
    return con


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    return duckdb_connection()


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("sql", REPRESENTATIVE, ids=range(len(REPRESENTATIVE)))
def test_results_equal_duckdb(client, duck, sql: str) -> None:
    ours = client.sql(sql)
    relation = duck.sql(sql)
    theirs = relation.fetchall()
    assert ours.num_rows == len(theirs) > 0
    assert [c.lower() for c in ours.column_names] == [c.lower() for c in relation.columns]
    for our_row, their_row in zip(ours.to_pylist(), theirs):
        for (name, x), y in zip(our_row.items(), their_row):
            assert same(x, y), (name, x, y)


def test_unoptimised_index_gives_the_same_answers(client, plain_client) -> None:
    sql = "SELECT Modality, COUNT(*) AS n, SUM(instanceCount) AS i FROM index GROUP BY 1 ORDER BY 1"
    assert client.sql(sql).to_pylist() == plain_client.sql(sql).to_pylist()
    assert plain_client._engine.table_path("index") == str(REAL_INDEX)
    assert client._engine.table_path("index") != str(REAL_INDEX)


def test_both_names_of_the_main_index(client) -> None:
    assert client.sql("SELECT COUNT(*) AS n FROM index").column("n") == [1044191]
    assert client.sql("SELECT COUNT(*) AS n FROM idc_index").column("n") == [1044191]


def test_result_column_names_keep_the_case_written(client) -> None:
    df = client.sql_query("SELECT seriesinstanceuid, COUNT(*) AS SeriesCount FROM index GROUP BY 1 LIMIT 1")
    assert list(df.columns) == ["SeriesInstanceUID", "SeriesCount"]
    # An alias is named as written, even when it spells a column in another case (as DuckDB).
    renamed = client.sql("SELECT Modality AS modality, PatientID AS PATIENTID FROM index ORDER BY modality LIMIT 1")
    assert renamed.column_names == ["modality", "PATIENTID"]


def test_sql_query_returns_pandas(client) -> None:
    import pandas as pd

    df = client.sql_query("SELECT collection_id, series_size_MB FROM index WHERE collection_id = 'rider_pilot'")
    assert isinstance(df, pd.DataFrame)
    assert len(df) > 0 and set(df["collection_id"]) == {"rider_pilot"}


def test_arrow_consumers_take_the_result_without_pandas(client) -> None:
    import polars as pl

    result = client.sql("SELECT Modality, COUNT(*) AS n FROM index GROUP BY 1 ORDER BY 1")
    table = pa.table(result)
    assert table.column_names == ["Modality", "n"]
    frame = pl.DataFrame(result)
    assert frame.height == table.num_rows
    assert frame["n"].sum() == 1044191
    modalities = result  # noqa: F841  (DuckDB finds Arrow objects by their variable name)
    via_duckdb = duckdb.sql("SELECT SUM(n) AS total FROM modalities").fetchall()
    assert via_duckdb == [(1044191,)]


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM index) TO '/tmp/idc-index-copy.parquet'",
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc'",
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT * FROM index",
        "INSERT INTO index SELECT * FROM index",
        "DELETE FROM index",
        "DROP TABLE index",
        "SELECT * INTO newtable FROM index",
        "SET datafusion.execution.target_partitions = 1",
        "SELECT 1; DROP TABLE index",
    ],
)
def test_statements_other_than_queries_are_refused(client, sql: str) -> None:
    from idc_index import ReadOnlySQLError

    with pytest.raises(ReadOnlySQLError, match="read-only|one statement"):
        client.sql(sql)
    assert client.sql("SELECT COUNT(*) AS n FROM index").column("n") == [1044191]


def test_local_files_cannot_be_read(client) -> None:
    from idc_index import SQLError

    for sql in ("SELECT * FROM '/etc/passwd'", "SELECT * FROM read_parquet('/etc/passwd')"):
        with pytest.raises(SQLError):
            client.sql(sql)


def test_unknown_table_lists_the_tables(client) -> None:
    from idc_index import UnknownTableError

    with pytest.raises(UnknownTableError, match="Tables you can query: .*collections_index.*index"):
        client.sql("SELECT * FROM sm_index")


def test_sql_errors_say_what_is_wrong(client) -> None:
    from idc_index import SQLError

    with pytest.raises(SQLError, match="(?is)No field named nosuchcolumn.*Valid fields are .*SeriesInstanceUID"):
        client.sql("SELECT NoSuchColumn FROM index")
    with pytest.raises(SQLError):
        client.sql("SELEC 1")


def test_query_releases_the_gil(plain_client) -> None:
    """Other threads run while a query does. Thread switches are left to the threads (a switch
    interval longer than the test): ``start()`` gets the GIL back from the new thread only when
    that thread lets go of it, and so does each ``sleep(0)`` after it. The thread lets go of it
    in the stat of each index file before the query (``IndexTables.sql`` checks that they are
    there, unchanged: ``stamps.identity``), then inside the query (its innermost Python frame is ``IndexTables._answer``, which
    calls the core), before the query ends."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("this interpreter has no GIL")
    done = threading.Event()

    def run() -> None:
        plain_client.sql("SELECT COUNT(DISTINCT SeriesInstanceUID || PatientID || StudyInstanceUID) FROM index")
        done.set()

    thread = threading.Thread(target=run)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        thread.start()  # returns once the new thread lets go of the GIL
        stops = []
        while True:
            query_running = not done.is_set()
            frame = sys._current_frames().get(thread.ident or 0)
            where = None if frame is None else (Path(frame.f_code.co_filename).name, frame.f_code.co_name)
            stops.append(where)
            if not query_running or where == ("index_tables.py", "_answer") or len(stops) > 100:
                break
            time.sleep(0)  # lets go of the GIL until the thread lets go of it again
    finally:
        sys.setswitchinterval(interval)
    thread.join()
    assert done.is_set()
    assert query_running and where == ("index_tables.py", "_answer"), stops
    # before the query: the stats (os.stat, native, called by stamps.identity)
    assert all(w == ("stamps.py", "identity") for w in stops[:-1]), stops


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(pid, SIGINT) terminates the process on Windows")
def test_ctrl_c_interrupts_a_long_query() -> None:
    # Ctrl-C comes from a thread that runs only once the main thread lets go of the GIL (thread
    # switches are left to the threads), which it does in the stat of each index file before the
    # query (the thread then hands the GIL back with sleep(0)) and inside the query: so it comes
    # while the query runs, however long the start took. The query (a join of every series with
    # every series of its modality) would run for hours.
    script = textwrap.dedent(
        """
        import os, signal, sys, threading, time
        from idc_index import IDCClient

        c = IDCClient(optimize_index=False)
        entered = threading.Event()

        def interrupt():
            entered.wait()
            for _ in range(1000):
                frame = sys._current_frames()[threading.main_thread().ident]
                if frame.f_code.co_name != "identity":  # the stat of an index file
                    break
                time.sleep(0)  # until the main thread lets go of the GIL again
            print("Ctrl-C in", frame.f_code.co_name, flush=True)
            os.kill(os.getpid(), signal.SIGINT)

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1000.0)
        threading.Thread(target=interrupt, daemon=True).start()
        entered.set()
        try:
            c.sql("SELECT COUNT(*) FROM index a JOIN index b ON a.Modality = b.Modality")
            print("the query finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        sys.setswitchinterval(interval)
        print("collections", c.sql("SELECT COUNT(*) AS n FROM collections_index").column("n")[0], flush=True)
        """
    )
    # The limit only keeps a process that is never interrupted from hanging the tests.
    out = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    # Ctrl-C came while the main thread was in the core (no Python frame of its own: the
    # innermost is IndexTables._answer, which calls it), and the query raised it instead of
    # running on.
    assert lines[:2] == ["Ctrl-C in _answer", "interrupted"], out.stdout + out.stderr[-2000:]
    # The client answers the next query.
    collections = pq.read_metadata(DATA_PACKAGE_DIR / "collections_index.parquet").num_rows
    assert lines[2:] == [f"collections {collections}"], out.stderr[-2000:]
