"""What a person finds by asking: help() on every public method, the indices among a client's
attributes, and errors that name the index to fetch."""

from __future__ import annotations

import inspect
import pydoc

import pytest
from idc_index import IDCClient
from idc_index.errors import IndexFileError, UnknownTableError


def test_help_on_a_method_of_the_class_and_of_a_client_shows_its_docstring(client) -> None:
    for method in (IDCClient.get_idc_version, client.get_idc_version):
        text = pydoc.render_doc(method, renderer=pydoc.plaintext)
        assert "The IDC data release in use" in text
        assert "lambda" not in text
    assert IDCClient.get_idc_version() == client.get_idc_version()


def test_the_queryable_indices_are_among_the_attributes(plain_client) -> None:
    names = dir(plain_client)
    assert {"index", "prior_versions_index", "collections_index", "collection_summary"} <= set(names)
    assert "sm_index" not in names  # not fetched: None until fetch_index
    assert plain_client.sm_index is None


def test_a_query_of_an_index_not_fetched_yet_says_how_to_fetch_it(plain_client) -> None:
    with pytest.raises(UnknownTableError, match=r"sm_index is an index of .* not fetched yet: "
                                                r"client.fetch_index\('sm_index'\)"):
        plain_client.sql("SELECT * FROM sm_index JOIN index USING (SeriesInstanceUID)")
    with pytest.raises(UnknownTableError, match="Tables you can query") as error:
        plain_client.sql("SELECT * FROM no_such_table")
    assert "fetch_index" not in str(error.value)


def test_clinical_tables_not_fetched_name_the_index_that_brings_them(plain_client) -> None:
    with pytest.raises(IndexFileError, match=r"fetch_index\('clinical_index'\)"):
        plain_client.get_clinical_table("nlst_canc")


def test_every_public_method_has_a_docstring() -> None:
    public = [m for name, m in inspect.getmembers(IDCClient) if not name.startswith("_") and callable(m)]
    assert public
    assert [m.__name__ for m in public if not (m.__doc__ or "").strip()] == []


def test_which_index_has_a_column_is_answered_for_indices_not_fetched_too(plain_client) -> None:
    found = plain_client.find_columns("slicethickness")
    assert {(c["index"], c["column"]) for c in found} == {
        (name, "SliceThickness") for name in ("ct_index", "mr_index", "pt_index")}
    assert not any(c["installed"] for c in found) and all(c["description"] for c in found)
    uids = plain_client.find_columns("*InstanceUID")
    assert ("index", "SeriesInstanceUID", True) in {(c["index"], c["column"], c["installed"]) for c in uids}
    assert all(c["column"].lower().endswith("instanceuid") for c in uids)
    assert plain_client.find_columns("no such column at all") == []
    described = plain_client.find_columns("slice thickness", descriptions=True)
    assert {c["column"] for c in described} >= {"SliceThickness"} and len(described) >= 3


def test_idc_columns_lists_them_and_says_when_none_matches(cache_dir) -> None:
    from click.testing import CliRunner
    from idc_index.cli import idc

    runner = CliRunner(env={"IDC_INDEX_CACHE_DIR": str(cache_dir)})
    out = runner.invoke(idc, ["columns", "SliceThickness", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0] == "index,column,type,installed,description"
    assert {line.split(",")[0] for line in out.output.splitlines()[1:]} == {"ct_index", "mr_index", "pt_index"}
    none = runner.invoke(idc, ["columns", "nothing-like-this"])
    assert none.exit_code == 1 and "No column of any index matches" in none.output and "--descriptions" in none.output


def test_an_identifier_of_another_level_is_named_as_such(plain_client) -> None:
    from idc_index.errors import UnknownIdentifierError

    series, study = plain_client.sql(
        "SELECT SeriesInstanceUID, StudyInstanceUID FROM index WHERE collection_id = 'rider_pilot' "
        "ORDER BY 1 LIMIT 1").to_pylist()[0].values()
    with pytest.raises(UnknownIdentifierError, match=f"'{series}' is a SeriesInstanceUID, not a StudyInstanceUID"):
        plain_client.get_dicom_series(series)
    with pytest.raises(UnknownIdentifierError, match=f"'{study}' is a StudyInstanceUID, not a PatientID") as error:
        plain_client.get_dicom_studies(study)
    assert error.value.suggestions == {}  # a value of another level gets no near matches
