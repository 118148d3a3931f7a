import duckdb
import pyarrow.parquet as pq
import pytest

from index_builder import __version__
from index_builder.indices import INDICES
from index_builder.writer import write_index


def chunks(path):
    md = pq.ParquetFile(path).metadata
    for r in range(md.num_row_groups):
        rg = md.row_group(r)
        for c in range(rg.num_columns):
            yield rg, rg.column(c)


@pytest.mark.parametrize("name", list(INDICES))
def test_zstd_statistics_and_page_index_everywhere(release_dir, name):
    for _, col in chunks(release_dir / f"{name}.parquet"):
        assert col.compression == "ZSTD", (name, col.path_in_schema)
        assert col.is_stats_set, (name, col.path_in_schema)
        assert col.has_column_index and col.has_offset_index, (name, col.path_in_schema)


@pytest.mark.parametrize("name", list(INDICES))
def test_bloom_filters_exactly_on_uid_columns(release_dir, name):
    spec = INDICES[name]
    with_bloom = {col.path_in_schema for _, col in chunks(release_dir / spec.file) if col.bloom_filter_offset}
    assert with_bloom == set(spec.bloom_columns)
    if "SeriesInstanceUID" in spec.schema.names:
        assert "SeriesInstanceUID" in with_bloom


def test_bloom_filter_lets_a_reader_skip_a_row_group(release_dir):
    path = str(release_dir / "idc_index.parquet")
    probe = "SELECT bloom_filter_excludes FROM parquet_bloom_probe(?, 'SeriesInstanceUID', ?)"
    assert duckdb.execute(probe, [path, "1.2.3.not.there"]).fetchall() == [(True,)]
    assert duckdb.execute(probe, [path, "1.2.826.0.1.3680043.8.498.1.1.1.1"]).fetchall() == [(False,)]


def test_release_and_builder_in_key_value_metadata(release_dir):
    meta = pq.read_metadata(release_dir / "idc_index.parquet").metadata
    assert meta[b"idc_index.release"] == b"25.0.0"
    assert meta[b"idc_index.idc_version"] == b"25"
    assert meta[b"idc_index.builder"] == f"index_builder {__version__}".encode()
    assert meta[b"idc_index.sort_keys"] == b"collection_id,PatientID,StudyInstanceUID,SeriesInstanceUID"
    assert b"pandas" not in meta


def test_row_groups_are_sized_and_sorted_for_pruning(release_dir, tmp_path):
    spec = INDICES["idc_index"]
    assert 8192 <= spec.row_group_size <= 16384
    table = pq.read_table(release_dir / "idc_index.parquet")
    path = write_index(table.replace_schema_metadata(None), spec, tmp_path / "idc_index.parquet", 25, "25.0.0", row_group_size=8)
    md = pq.ParquetFile(path).metadata
    groups = -(-table.num_rows // 8)
    assert groups >= 3 and md.num_row_groups == groups
    assert [md.row_group(i).num_rows for i in range(groups - 1)] == [8] * (groups - 1)
    coll = table.schema.get_field_index("collection_id")
    ranges = [(md.row_group(i).column(coll).statistics.min, md.row_group(i).column(coll).statistics.max) for i in range(groups)]
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:]))  # sorted: row groups do not overlap
    assert md.row_group(0).sorting_columns[0].column_index == coll
    # a lookup by collection reads only the row groups whose statistics cover it
    con = duckdb.connect()
    plan = con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM '{path}' WHERE collection_id = 'petct_demo'").fetchall()
    assert con.execute(f"SELECT count(*) FROM '{path}' WHERE collection_id = 'petct_demo'").fetchone() == (4,)
    assert plan  # the plan ran; the layout script measures the effect at scale


def test_every_page_states_its_crc(release_dir, tmp_path):
    """A reader that checks page CRCs (pyarrow here; the client's core always does) refuses a
    byte changed inside a page: bytes changed on disk never decode as other values."""
    source = release_dir / "collections_index.parquet"
    assert pq.read_table(source, page_checksum_verification=True).num_rows > 0
    for _, col in chunks(source):
        changed = tmp_path / f"{col.path_in_schema}.parquet"
        data = bytearray(source.read_bytes())
        start = col.dictionary_page_offset or col.data_page_offset
        data[start + col.total_compressed_size - 1] ^= 0x01  # the last byte of the chunk's last page
        changed.write_bytes(bytes(data))
        with pytest.raises(OSError, match="(?i)crc"):
            pq.read_table(changed, page_checksum_verification=True)
