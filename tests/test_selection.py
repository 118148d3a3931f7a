"""A user's selection is checked once, where it enters the API, and travels as one value."""

from __future__ import annotations

import numpy as np
import pytest
from idc_index.selection import Selection


def test_every_identifier_argument_is_checked_and_kept_as_a_tuple():
    s = Selection.of(collection_id="c", patientId=["p1", "p2"], studyInstanceUID=("s",),
                     seriesInstanceUID=np.array(["x"]), sopInstanceUID="i", crdc_series_uuid=["u"],
                     analysis_result_id="a", analysis_results="only")
    assert s == Selection(collection_id=("c",), patientId=("p1", "p2"), studyInstanceUID=("s",),
                          seriesInstanceUID=("x",), sopInstanceUID=("i",), crdc_series_uuid=("u",),
                          analysis_result_id=("a",), analysis_results="only")
    with pytest.raises(TypeError, match=r"patientId must be a string or list of strings.*int 3"):
        Selection.of(patientId=3)
    with pytest.raises(TypeError, match=r"seriesInstanceUID .* item 1 is int 2"):
        Selection.of(seriesInstanceUID=["1.2", 2])
    with pytest.raises(ValueError, match="collection_id is an empty list"):
        Selection.of(collection_id=[])


def test_the_most_specific_level_selects_as_in_idc_index_0_13():
    assert Selection.of(collection_id="c", patientId="p").level() == ("PatientID", ("p",))
    assert Selection.of(collection_id="c", seriesInstanceUID="x", studyInstanceUID="s").level() == (
        "SeriesInstanceUID", ("x",))
    assert Selection.of(collection_id=["a", "b"]).level() == ("collection_id", ("a", "b"))
    assert Selection.of(crdc_series_uuid="u").level() is None


def test_analysis_options_are_checked_with_the_rest():
    with pytest.raises(ValueError, match="analysis_results must be one of 'include', 'exclude' or 'only', not 'some'"):
        Selection.of(collection_id="c", analysis_results="some")
    with pytest.raises(ValueError, match="analysis_result_id cannot be used when analysis_results is 'exclude'"):
        Selection.of(analysis_result_id="a", analysis_results="exclude")


def test_a_required_argument_refuses_none_instead_of_selecting_nothing():
    with pytest.raises(TypeError, match="seriesInstanceUID must be a string or list of strings.*got None"):
        Selection.of(seriesInstanceUID=None, required="seriesInstanceUID")
    assert not Selection.of().names_identifiers
    assert Selection.of(analysis_result_id="a").names_identifiers


def test_a_selection_shows_what_was_given():
    assert repr(Selection.of(collection_id="c", analysis_results="exclude")) == (
        "Selection(collection_id=('c',), analysis_results='exclude')")


def test_download_methods_check_the_selection_before_anything_else(client, tmp_path):
    with pytest.raises(TypeError, match="seriesInstanceUID"):
        client.download_dicom_series(None, tmp_path / "x")
    with pytest.raises(TypeError, match="patientId"):
        client.download_from_selection(tmp_path / "x", patientId=5)
    with pytest.raises(ValueError, match="analysis_results"):
        client.plan_download(tmp_path / "x", collection_id="c", analysis_results="bad")
    assert not (tmp_path / "x").exists()  # refused before the download directory is made
