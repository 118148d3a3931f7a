import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from index_builder import fixture
from index_builder.indices import INDICES
from index_builder.manifest import sha256_file, verify_release

ROOT = Path(__file__).resolve().parents[1]


def rows_by(release_dir, index, key):
    return {r[key]: r for r in pq.read_table(release_dir / f"{index}.parquet").to_pylist()}


@pytest.mark.parametrize("name", list(INDICES))
def test_each_index_is_written_with_its_declared_schema(release_dir, name):
    schema = pq.read_schema(release_dir / f"{name}.parquet")
    assert schema.remove_metadata().equals(INDICES[name].schema), name
    assert pq.read_metadata(release_dir / f"{name}.parquet").num_rows > 0


def test_idc_index_schema_equals_the_real_v25_file(release_dir, real_idc_index):
    ours = pq.read_schema(release_dir / "idc_index.parquet")
    real = pq.read_schema(real_idc_index)
    assert [(f.name, str(f.type)) for f in ours] == [(f.name, str(f.type)) for f in real]
    assert len(ours) == 31


def test_sm_instance_index_keeps_the_v25_column_order_and_appends_the_new_columns(release_dir, real_idc_index):
    v25 = json.loads(real_idc_index.with_name("sm_instance_index_schema.json").read_text())
    v25_names = [c["name"] for c in v25["columns"]]
    ours = pq.read_schema(release_dir / "sm_instance_index.parquet").names
    assert ours[: len(v25_names)] == v25_names
    assert ours[len(v25_names):] == [
        "ContainerIdentifier", "SpecimenUID", "SpecimenIdentifier", "primaryAnatomicStructure_CodingSchemeDesignator",
        "primaryAnatomicStructure_CodeValue", "primaryAnatomicStructure_CodeMeaning",
        "primaryAnatomicStructureModifier_CodingSchemeDesignator", "primaryAnatomicStructureModifier_CodeValue",
        "primaryAnatomicStructureModifier_CodeMeaning", "optical_paths", "PixelSpacing_1", "Rows", "Columns",
        "PyramidUID", "PyramidLabel",
    ]


def test_the_release_keeps_each_query_as_it_ran(release_dir):
    for name in INDICES:
        sql = (release_dir / f"{name}.sql").read_text()
        assert "`bigquery-public-data.idc_v25.dicom_all`" in sql or name in (
            "collections_index", "analysis_results_index", "version_metadata_index", "clinical_index"), name
        assert "{dataset}" not in sql and "-- @table" in sql


def test_idc_index_values(release_dir):
    series = rows_by(release_dir, "idc_index", "SeriesInstanceUID")
    assert len(series) == len({r["SeriesInstanceUID"] for r in fixture.generate()["gen"].instances})  # one row per series
    ct = series[fixture.CT_SERIES]
    assert ct["collection_id"] == "lung_ct_demo"
    assert ct["PatientID"] == "LCT-001"
    assert ct["instanceCount"] == 8
    assert ct["series_size_MB"] == pytest.approx(8 * 524288 / 1e6)
    assert ct["sop_class_name"] == "CT Image Storage"
    assert ct["transfer_syntax_name"] == "Explicit VR Little Endian"
    assert ct["BodyPartExamined"] == "CHEST"
    assert ct["StudyDate"] == "2001-03-04"
    assert ct["PixelRepresentation"] == "1"
    assert ct["analysis_result_id"] is None
    assert (ct["series_init_idc_version"], ct["series_revised_idc_version"]) == (20, 22)
    assert ct["series_aws_url"] == f"s3://idc-open-data/{ct['crdc_series_uuid']}/*"
    sm = series["1.2.826.0.1.3680043.8.498.4.1.1.1"]
    # a slide mixing JPEG 2000 (base level) and JPEG baseline (lower levels)
    assert sm["TransferSyntaxUID"] == "1.2.840.10008.1.2.4.50,1.2.840.10008.1.2.4.91"
    assert sm["transfer_syntax_name"] == "JPEG 2000,JPEG Baseline"
    assert sm["BodyPartExamined"] is None
    seg = series["1.2.826.0.1.3680043.8.498.1.1.1.3"]
    assert seg["analysis_result_id"] == "lung_seg_demo" and seg["Modality"] == "SEG"
    mr = series["1.2.826.0.1.3680043.8.498.2.1.1.1"]
    assert mr["aws_bucket"] == "idc-open-data-cr"


def test_idc_index_rows_are_sorted_by_collection_patient_study_series(release_dir):
    t = pq.read_table(release_dir / "idc_index.parquet").to_pylist()
    keys = [(r["collection_id"], r["PatientID"], r["StudyInstanceUID"], r["SeriesInstanceUID"]) for r in t]
    assert keys == sorted(keys)


def test_prior_versions_index(release_dir):
    rows = pq.read_table(release_dir / "prior_versions_index.parquet").to_pylist()
    by_uid = {r["SeriesInstanceUID"]: r for r in rows}
    assert len(rows) == 4
    revised = by_uid[fixture.REVISED_SERIES]  # revised in 25: v23 and v24 served the older version
    assert (revised["min_idc_version"], revised["max_idc_version"]) == (23, 24)
    current = rows_by(release_dir, "idc_index", "SeriesInstanceUID")[fixture.REVISED_SERIES]
    assert revised["crdc_series_uuid"] != current["crdc_series_uuid"]
    removed = by_uid[fixture.REMOVED_SERIES]
    assert (removed["gcs_bucket"], removed["aws_bucket"]) == ("public-datasets-idc", "idc-open-data")
    assert removed["series_size_MB"] == pytest.approx(3.0)
    assert removed["series_aws_url"] == f"s3://idc-open-data/{removed['crdc_series_uuid']}/*"
    assert by_uid["1.2.826.0.1.3680043.8.498.1.2.1.2"]["max_idc_version"] == 23


def test_sm_instance_index_one_row_per_instance_with_specimen_and_optics(release_dir):
    rows = rows_by(release_dir, "sm_instance_index", "SOPInstanceUID")
    assert len(rows) == sum(r["Modality"] == "SM" for r in fixture.generate()["gen"].instances)
    base = rows["1.2.826.0.1.3680043.8.498.4.1.1.1.1"]
    assert base["ContainerIdentifier"] == "SLIDE-1"
    assert base["SpecimenIdentifier"] == "S-1"
    assert base["SpecimenUID"] == "1.2.826.0.1.3680043.8.498.4.1.5"
    assert base["staining_usingSubstance_CodeMeaning"] == ["hematoxylin stain", "water soluble eosin stain"]
    assert base["staining_usingSubstance_code_designator_value_str"] == ["SCT:12710003", "SCT:36879007"]
    assert base["embeddingMedium_CodeMeaning"] == ["Paraffin wax"]
    assert base["tissueFixative_code_designator_value_str"] == ["SCT:431510009"]
    assert (base["primaryAnatomicStructure_CodingSchemeDesignator"], base["primaryAnatomicStructure_CodeValue"],
            base["primaryAnatomicStructure_CodeMeaning"]) == ("SCT", "76752008", "Breast")
    assert base["primaryAnatomicStructureModifier_CodeMeaning"] == "Left"
    assert base["optical_paths"] == [{
        "OpticalPathIdentifier": "1", "illuminationType_code_designator_value_str": "DCM:111744",
        "illuminationType_CodeMeaning": "Brightfield illumination",
        "illuminationColor_code_designator_value_str": "SCT:414298005", "illuminationColor_CodeMeaning": "Full Spectrum",
        "IlluminationWaveLength": None, "ObjectiveLensPower": 20.0}]
    assert base["PixelSpacing_0"] == pytest.approx(0.00025)
    assert (base["TotalPixelMatrixRows"], base["TotalPixelMatrixColumns"], base["Rows"]) == (40000, 41000, 256)
    assert base["ImageType"][2] == "VOLUME"
    assert base["PyramidLabel"] == "slide 1" and base["PyramidUID"]
    assert base["instance_size"] == 1000000 and base["crdc_instance_uuid"]
    label = rows["1.2.826.0.1.3680043.8.498.4.1.1.1.4"]
    assert label["ImageType"][2] == "LABEL" and label["PyramidUID"] is None
    other = rows["1.2.826.0.1.3680043.8.498.4.2.1.1.1"]
    assert other["primaryAnatomicStructureModifier_CodeMeaning"] is None
    assert other["staining_usingSubstance_CodeMeaning"] == ["eosin"]


def test_sm_index_summarises_each_slide(release_dir):
    rows = rows_by(release_dir, "sm_index", "SeriesInstanceUID")
    s1 = rows["1.2.826.0.1.3680043.8.498.4.1.1.1"]
    assert s1["min_PixelSpacing_2sf"] == 0.00025
    assert (s1["max_TotalPixelMatrixRows"], s1["max_TotalPixelMatrixColumns"]) == (40000, 41000)
    assert s1["ObjectiveLensPower"] == 20
    assert s1["primaryAnatomicStructure_code_designator_value_str"] == "SCT:76752008"
    assert s1["illuminationType_CodeMeaning"] == "Brightfield illumination"
    assert s1["admittingDiagnosis_CodeMeaning"] == "Malignant neoplasm of breast"
    s2 = rows["1.2.826.0.1.3680043.8.498.4.2.1.1"]
    assert s2["admittingDiagnosis_code_designator_value_str"] is None


def test_sm_index_edge_cases_give_what_idc_index_data_gives(release_dir):
    rows = rows_by(release_dir, "sm_index", "SeriesInstanceUID")
    zero = rows["1.2.826.0.1.3680043.8.498.4.2.1.34"]  # pixel spacing 0: LOG10(0) would fail in BigQuery
    assert zero["min_PixelSpacing_2sf"] == 0.0
    assert zero["staining_usingSubstance_CodeMeaning"] == [] and zero["primaryAnatomicStructure_CodeMeaning"] is None
    edge = rows["1.2.826.0.1.3680043.8.498.4.1.1.33"]
    assert edge["min_PixelSpacing_2sf"] == 0.00049  # the top-level PixelSpacing (0.000487), not the shared 0.000243
    assert (edge["max_TotalPixelMatrixRows"], edge["max_TotalPixelMatrixColumns"]) == (2048, 1536)  # Rows, Columns
    # sorted as the strings 'meaning:scheme:value' ('CD31:' < 'CD3:'), meanings with ':' kept whole
    assert edge["staining_usingSubstance_CodeMeaning"] == ["CD31", "CD3", "Hematoxylin: Mayer's"]
    assert edge["staining_usingSubstance_code_designator_value_str"] == ["99IDC:CD31", "99IDC:CD3", "SCT:12710003"]
    assert edge["embeddingMedium_CodeMeaning"] == []
    # one instance has an admitting diagnosis, the other none: the one there is
    assert (edge["admittingDiagnosis_code_designator_value_str"], edge["admittingDiagnosis_CodeMeaning"]) == (
        "SCT:408643008", "Carcinoma: invasive ductal")
    assert edge["ObjectiveLensPower"] == 40
    instances = rows_by(release_dir, "sm_instance_index", "SOPInstanceUID")
    assert instances["1.2.826.0.1.3680043.8.498.4.2.1.34.1"]["PixelSpacing_0"] == 0.0
    assert instances["1.2.826.0.1.3680043.8.498.4.1.1.33.2"]["staining_usingSubstance_CodeMeaning"] == [
        "CD31", "CD3", "Hematoxylin: Mayer's"]


def test_seg_index_resolves_the_referenced_instance_to_its_series(release_dir):
    seg = rows_by(release_dir, "seg_index", "SeriesInstanceUID")
    # LCT-001 references the CT instance in ReferencedSeriesSequence, LCT-002 only in
    # ReferencedImageSequence, LCT-003 only in SourceImageSequence
    for p in (1, 2, 3):
        assert seg[f"1.2.826.0.1.3680043.8.498.1.{p}.1.3"]["segmented_SeriesInstanceUID"] == f"1.2.826.0.1.3680043.8.498.1.{p}.1.1"
    not_in_idc = seg["1.2.826.0.1.3680043.8.498.1.3.1.32"]  # its referenced instance is not in IDC
    assert not_in_idc["segmented_SeriesInstanceUID"] is None and not_in_idc["total_segments"] == 1
    assert "1.2.826.0.1.3680043.8.498.1.1.1.31" not in seg  # a SEG series without segments has no row
    assert len(seg) == 4


def test_derived_object_indices(release_dir):
    seg = rows_by(release_dir, "seg_index", "SeriesInstanceUID")["1.2.826.0.1.3680043.8.498.1.1.1.3"]
    assert seg["total_segments"] == 2
    assert seg["SegmentedPropertyType_CodeMeanings"] == ["Heart", "Lung"]
    assert seg["segmented_SeriesInstanceUID"] == fixture.CT_SERIES
    assert seg["AnatomicRegion_CodeMeanings"] == []  # BigQuery returns empty arrays, not NULL
    rt = rows_by(release_dir, "rtstruct_index", "SeriesInstanceUID")["1.2.826.0.1.3680043.8.498.1.1.1.4"]
    assert rt["total_rois"] == 2 and rt["ROINames"] == ["GTV", "Lung_L"]
    assert rt["RTROIInterpretedTypes"] == ["GTV", "ORGAN"]
    assert rt["referenced_SeriesInstanceUID"] == fixture.CT_SERIES
    ann = pq.read_table(release_dir / "ann_index.parquet").to_pylist()
    assert ann == [{"SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.4.1.1.2", "AnnotationCoordinateType": "2D",
                    "referenced_SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.4.1.1.1"}]
    groups = pq.read_table(release_dir / "ann_group_index.parquet").to_pylist()
    assert [(g["AnnotationGroupNumber"], g["AnnotationGroupLabel"], g["NumberOfAnnotations"], g["GraphicType"])
            for g in groups] == [(1, "Nucleus", 1520, "POLYGON"), (2, "Tumor cell", 310, "POINT")]
    assert groups[0]["AnnotationPropertyType_code"] == "SCT:84640000"
    assert groups[0]["AlgorithmName"] == "HoVer-Net"


def test_modality_indices(release_dir):
    ct = rows_by(release_dir, "ct_index", "SeriesInstanceUID")[fixture.CT_SERIES]
    assert (ct["XRayTubeCurrent_min"], ct["XRayTubeCurrent_max"]) == (200.0, 270.0)
    assert ct["ConvolutionKernel"] == ["STANDARD"] and ct["PixelSpacing_row_mm"] == 0.7
    # SEG/RTSTRUCT/SR are not CT images; 11: 6 of lung_ct_demo, 2 of petct_demo, LCT-002's localizer, MIP and uneven
    assert len(rows_by(release_dir, "ct_index", "SeriesInstanceUID")) == 11
    mr = rows_by(release_dir, "mr_index", "SeriesInstanceUID")["1.2.826.0.1.3680043.8.498.2.1.1.2"]
    assert mr["DiffusionBValue"] == [0.0, 800.0] and mr["EchoTime"] == [80.0, 81.0]
    pt = rows_by(release_dir, "pt_index", "SeriesInstanceUID")["1.2.826.0.1.3680043.8.498.3.1.1.1"]
    assert pt["SeriesType"] == "WHOLE BODY/IMAGE" and pt["RadionuclideCodeMeaning"] == "^18^Fluorine"
    assert pt["RadionuclideTotalDose"] == 370000000.0 and pt["ActualFrameDuration"] == [180000.0]
    contrast = pq.read_table(release_dir / "contrast_index.parquet").to_pylist()
    assert contrast == [{"SeriesInstanceUID": fixture.REVISED_SERIES, "ContrastBolusAgent": ["Omnipaque"],
                         "ContrastBolusIngredient": [], "ContrastBolusRoute": ["IV"]}]


def test_volume_geometry_index(release_dir):
    rows = rows_by(release_dir, "volume_geometry_index", "SeriesInstanceUID")
    good = rows[fixture.CT_SERIES]
    assert good["regularly_spaced_3d_volume"] is True
    assert good["origin_patient"] == [-170.0, -170.0, -100.0]
    assert good["ImageOrientationPatient"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert good["slice_spacing_mm"] == pytest.approx(2.5) and good["obliquity_degrees"] == pytest.approx(0.0)
    stacked = rows["1.2.826.0.1.3680043.8.498.1.2.1.2"]  # every slice at the same position
    assert stacked["unique_slice_positions"] is False and stacked["regularly_spaced_3d_volume"] is False
    assert stacked["origin_patient"] == [] and stacked["slice_spacing_mm"] is None
    oblique = rows["1.2.826.0.1.3680043.8.498.1.3.1.2"]  # tilted 30 degrees about x
    assert oblique["obliquity_degrees"] == pytest.approx(30.0, abs=1e-3)
    assert oblique["consistent_in_plane_col"] is False  # positions move along z, not along the normal
    dwi = rows["1.2.826.0.1.3680043.8.498.2.1.1.2"]  # two b-values per position
    assert dwi["unique_slice_positions"] is False


def test_metadata_indices(release_dir):
    colls = rows_by(release_dir, "collections_index", "collection_id")
    assert sorted(colls) == ["breast_sm_demo", "lung_ct_demo", "petct_demo", "prostate_mr_demo"]
    lung = colls["lung_ct_demo"]
    assert lung["sources"][0]["license"]["license_short_name"] == "CC BY 4.0"
    assert lung["sources"][0]["provenance"]["data_contributor"] == "TCIA"
    assert lung["updated"] == "2024-01-01" and lung["supporting_data"] == "Clinical"
    assert colls["petct_demo"]["supporting_data"] is None  # '' -> NULL
    versions = pq.read_table(release_dir / "version_metadata_index.parquet").to_pylist()
    assert versions[0] == {"idc_version": 1, "version_timestamp": "2020-06-01"}
    assert [v["idc_version"] for v in versions] == list(range(1, 26))
    ar = pq.read_table(release_dir / "analysis_results_index.parquet").to_pylist()
    assert ar[0]["source_DOI"] == "10.0000/demo.lungseg" and ar[0]["updated"] == "2025-05-01"
    assert ar[0]["provenance"]["dicom_conversion_by"] == "IDC"
    clinical = pq.read_table(release_dir / "clinical_index.parquet").to_pylist()
    smoking = next(c for c in clinical if c["column"] == "smoking_status")
    assert smoking["short_table_name"] == "lung_ct_demo_clinical"
    assert smoking["values"] == [{"option_code": "1", "option_description": "never"},
                                 {"option_code": "2", "option_description": "former"}]
    assert next(c for c in clinical if c["column"] == "age_at_diagnosis")["column_label"] is None


def test_manifest_describes_every_file(release_dir):
    manifest = json.loads((release_dir / "manifest.json").read_text())
    assert list(manifest) == ["format", "idc_version", "release", "created", "builder", "indices"]
    assert manifest["format"] == "idc-index-release/1"
    assert manifest["idc_version"] == 25 and manifest["release"] == "25.0.0"
    assert manifest["builder"] == {"name": "index_builder", "version": "0.1.0"}
    assert sorted(manifest["indices"]) == sorted(INDICES)
    for name, entry in manifest["indices"].items():
        path = release_dir / entry["file"]
        assert entry["file"] == f"{name}.parquet"
        assert entry["bytes"] == path.stat().st_size
        assert entry["sha256"] == sha256_file(path)
        assert (release_dir / f"{entry['file']}.sha256").read_text() == f"{entry['sha256']}  {entry['file']}\n"
        schema = pq.read_schema(path)
        assert [c["name"] for c in entry["columns"]] == schema.names
        assert [c["type"] for c in entry["columns"]] == [str(f.type) for f in schema]
        assert all(c["description"] for c in entry["columns"])
        assert entry["rows"] == pq.read_metadata(path).num_rows
    sources = {c["name"]: c for c in manifest["indices"]["collections_index"]["columns"]}["sources"]
    assert sources["type"].startswith("list<element: struct<")
    license_ = {f["name"]: f for f in sources["fields"]}["license"]
    assert [f["name"] for f in license_["fields"]] == ["license_url", "license_long_name", "license_short_name"]
    assert all(f["description"] for f in license_["fields"])
    plain = {c["name"]: c for c in manifest["indices"]["idc_index"]["columns"]}["collection_id"]
    assert "fields" not in plain
    assert verify_release(release_dir)["release"] == "25.0.0"


def test_cli_build_offline_then_verify(source_dir, tmp_path):
    out = tmp_path / "rel"
    cmd = [sys.executable, "-m", "index_builder", "build", "--backend", "duckdb", "--source", str(source_dir),
           "--idc-version", "current", "--release", "25.0.1", "--out", str(out),
           "--index", "idc_index", "--index", "prior_versions_index"]
    done = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "bytes to scan" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["idc_version"] == 25  # 'current' resolved from version_metadata
    assert manifest["release"] == "25.0.1"
    assert sorted(manifest["indices"]) == ["idc_index", "prior_versions_index"]
    verify = subprocess.run([sys.executable, "-m", "index_builder", "verify", str(out)], cwd=ROOT,
                            check=False, capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and "2 indices verified" in verify.stdout


def test_cli_refuses_to_overwrite_and_names_the_fix(source_dir, release_dir):
    done = subprocess.run([sys.executable, "-m", "index_builder", "build", "--backend", "duckdb", "--source",
                           str(source_dir), "--idc-version", "25", "--out", str(release_dir)],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ReleaseError" in done.stderr and "--force" in done.stderr


def test_verify_detects_a_tampered_file(release_dir, tmp_path):
    import shutil

    from index_builder.errors import ReleaseError

    copy = tmp_path / "copy"
    shutil.copytree(release_dir, copy)
    with open(copy / "ann_index.parquet", "r+b") as f:
        f.seek(10)
        f.write(b"\x00\x01")
    with pytest.raises(ReleaseError, match="sha256 of ann_index.parquet"):
        verify_release(copy)
