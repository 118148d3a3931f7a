"""The queries idc-index users run, defined once for the test that checks each answer against
DuckDB's (tests/test_query_equivalence.py) and the benchmark that times each against DuckDB
(tests/benchmarks/test_queries.py).

Every SQL query is written as users write it for idc-index 0.13, whose ``sql_query`` ran on
DuckDB: the DuckDB dialect, the tables of the release (``index``, ``collections_index``, the
optional indices once fetched). ``$name`` marks a parameter drawn from the real index by
:func:`draw_params` (deterministic, spread across the index); a list parameter is spelled as a
comma-separated list of SQL literals, for ``IN ($series_100)``.

The ``get_*`` helpers of ``IDCClient`` are entries too: the call, and the DuckDB SQL that gives
the same answer where there is one.

Example:
    >>> con = duckdb_connection(table_paths(client))  # doctest: +SKIP
    >>> params = draw_params(con)  # doctest: +SKIP
    >>> con.sql(sql_for(QUERIES["lookup_series_in_100"], params)).to_arrow_table()  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import Template
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

#: The optional indices the catalog's queries read; tests publish them (tests/optional_indices.py).
OPTIONAL_INDICES = ("sm_index", "sm_instance_index", "seg_index", "ann_index", "ann_group_index", "clinical_index",
                    "ct_index", "mr_index", "pt_index", "rtstruct_index", "contrast_index", "volume_geometry_index")


@dataclass(frozen=True)
class Query:
    """One SQL query, as users write it.

    Attributes:
        sql: DuckDB-dialect SQL with ``$name`` parameters.
        ordered_by: the result columns whose order the query's ORDER BY fixes (rows that tie on
            them may come in any order).
        sample: the query takes a LIMIT without ORDER BY: any rows of the unlimited result are right.
        unordered_lists: columns of comma-joined values aggregated without an order
            (``STRING_AGG(DISTINCT x)``): the same values in any order are right.
        source: where users write it (a tutorial), when it is taken from one.
    """

    sql: str
    ordered_by: tuple[str, ...] = ()
    sample: bool = False
    unordered_lists: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Helper:
    """One call of an ``IDCClient`` helper.

    Attributes:
        call: the call, given the client and the parameters.
        sql: DuckDB SQL with the same answer (``None``: there is none).
        answer: the part of the helper's return value that ``sql`` answers (default: all of it).
        ordered_by: as for :class:`Query`; for a list or a single value, ``("*",)`` means in order.
        unordered_lists: as for :class:`Query`.
        against_duckdb: whether the benchmark times ``sql`` on DuckDB beside the call (not when
            the call's work is elsewhere: a bucket listing, a file read, a constant).
    """

    call: Callable[[Any, Mapping[str, Any]], Any]
    sql: str | None
    answer: Callable[[Any], Any] = lambda value: value
    ordered_by: tuple[str, ...] = ()
    unordered_lists: tuple[str, ...] = ()
    against_duckdb: bool = True


VIEWER = "https://viewer.imaging.datacommons.cancer.gov"
DICOMWEB_PROXY = (
    "https://proxy.imaging.datacommons.cancer.gov/current/viewer-only-no-downloads-see-tinyurl-dot-com-slash-3j3d9jyp"
    "/dicomWeb"
)
DICOMWEB_GOOGLE = (
    "https://healthcare.googleapis.com/v1/projects/nci-idc-data/locations/us-central1/datasets/idc"
    "/dicomStores/idc-store-v25/dicomWeb"
)

# -- the get_* helpers ---------------------------------------------------------------------------
HELPERS: dict[str, Helper] = {
    "get_idc_version": Helper(
        lambda c, p: c.get_idc_version(),
        "SELECT 'v' || MAX(idc_version) AS v FROM version_metadata_index",
        against_duckdb=False,
    ),
    "get_collections": Helper(
        lambda c, p: c.get_collections(),
        "SELECT DISTINCT collection_id FROM index ORDER BY collection_id",
        ordered_by=("*",),
    ),
    "get_patients": Helper(
        lambda c, p: c.get_patients("NSCLC-Radiomics"),
        """SELECT PatientID, STRING_AGG(DISTINCT PatientSex) AS PatientSex, STRING_AGG(DISTINCT PatientAge) AS PatientAge
           FROM index WHERE collection_id = 'nsclc_radiomics' GROUP BY PatientID ORDER BY PatientID""",
        ordered_by=("PatientID",),
        unordered_lists=("PatientSex", "PatientAge"),
    ),
    "get_patients_list": Helper(
        lambda c, p: c.get_patients(["tcga_luad", "TCGA-LUSC"], outputFormat="list"),
        "SELECT DISTINCT PatientID FROM index WHERE collection_id IN ('tcga_luad', 'tcga_lusc') ORDER BY PatientID",
        ordered_by=("*",),
    ),
    "get_dicom_studies": Helper(
        lambda c, p: c.get_dicom_studies(p["patient"]),
        """SELECT StudyInstanceUID, STRING_AGG(DISTINCT StudyDate) AS StudyDate,
                  STRING_AGG(DISTINCT StudyDescription) AS StudyDescription,
                  COUNT(SeriesInstanceUID) AS SeriesCount
           FROM index WHERE PatientID = '$patient' GROUP BY StudyInstanceUID
           ORDER BY 2, 3, 4, StudyInstanceUID""",
        ordered_by=("StudyDate", "StudyDescription", "SeriesCount", "StudyInstanceUID"),
        unordered_lists=("StudyDate", "StudyDescription"),
    ),
    "get_dicom_series": Helper(
        lambda c, p: c.get_dicom_series(p["study"]),
        """SELECT DISTINCT StudyInstanceUID, SeriesInstanceUID, Modality, SeriesDate, collection_id AS Collection,
                  BodyPartExamined, SeriesDescription, Manufacturer, ManufacturerModelName, series_size_MB,
                  SeriesNumber, instanceCount AS instance_count, 1 AS ImageCount
           FROM index WHERE StudyInstanceUID = '$study'
           ORDER BY Modality, SeriesDate, SeriesDescription, BodyPartExamined, SeriesNumber""",
        ordered_by=("Modality", "SeriesDate", "SeriesDescription", "BodyPartExamined", "SeriesNumber"),
    ),
    "get_dicom_series_list_of_100_studies": Helper(
        lambda c, p: c.get_dicom_series(p["study_100"], outputFormat="list"),
        "SELECT DISTINCT SeriesInstanceUID FROM index WHERE StudyInstanceUID IN ($study_100) ORDER BY 1",
        ordered_by=("*",),
    ),
    "get_series_size": Helper(
        lambda c, p: c.get_series_size(p["series"]),
        "SELECT series_size_MB FROM index WHERE SeriesInstanceUID = '$series'",
    ),
    "get_derived_series": Helper(
        lambda c, p: c.get_derived_series(p["derived_from"]),
        """SELECT d.referenced AS referenced_SeriesInstanceUID, d.SeriesInstanceUID, i.Modality, i.collection_id,
                  i.PatientID, i.StudyInstanceUID, i.analysis_result_id, i.SeriesDescription, i.series_size_MB,
                  d.index_name
           FROM (SELECT segmented_SeriesInstanceUID AS referenced, SeriesInstanceUID, 'seg_index' AS index_name
                 FROM seg_index
                 UNION ALL SELECT referenced_SeriesInstanceUID, SeriesInstanceUID, 'rtstruct_index' FROM rtstruct_index
                 UNION ALL SELECT referenced_SeriesInstanceUID, SeriesInstanceUID, 'ann_index' FROM ann_index) d
           LEFT JOIN index i ON d.SeriesInstanceUID = i.SeriesInstanceUID
           WHERE d.referenced = '$derived_from'
           ORDER BY 1, d.index_name, 2""",
        ordered_by=("referenced_SeriesInstanceUID", "index_name", "SeriesInstanceUID"),
    ),
    "get_viewer_URL": Helper(
        lambda c, p: c.get_viewer_URL(seriesInstanceUID=p["series"]),
        f"""SELECT CASE WHEN EXISTS (SELECT 1 FROM index s WHERE s.StudyInstanceUID = i.StudyInstanceUID
                                     AND s.Modality = 'SM')
                   THEN '{VIEWER}/slim/studies/' || StudyInstanceUID || '/series/' || SeriesInstanceUID
                   ELSE '{VIEWER}/v3/viewer/?StudyInstanceUIDs=' || StudyInstanceUID
                        || '&initialSeriesInstanceUID=' || SeriesInstanceUID END AS url
            FROM index i WHERE SeriesInstanceUID = '$series'""",
    ),
    "get_viewer_URL_slide": Helper(
        lambda c, p: c.get_viewer_URL(studyInstanceUID=p["sm_study"]),
        f"""SELECT DISTINCT CASE WHEN list_contains(list(Modality) OVER (), 'SM')
                            THEN '{VIEWER}/slim/studies/' || StudyInstanceUID
                            ELSE '{VIEWER}/v3/viewer/?StudyInstanceUIDs=' || StudyInstanceUID END AS url
            FROM index WHERE StudyInstanceUID = '$sm_study'""",
    ),
    "get_index_schema": Helper(
        lambda c, p: c.get_index_schema("index"),
        "SELECT column_name AS name FROM (DESCRIBE index)",
        answer=lambda schema: [column["name"] for column in schema["columns"]],
        ordered_by=("*",),
        against_duckdb=False,
    ),
    "get_instance_file_URL": Helper(
        lambda c, p: c.get_instance_file_URL(p["sop"]),
        """SELECT 's3://' || s.aws_bucket || '/' || s.crdc_series_uuid || '/' || i.crdc_instance_uuid || '.dcm' AS url
           FROM sm_instance_index i JOIN index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
           WHERE i.SOPInstanceUID = '$sop'""",
    ),
    "get_dicomweb_URL": Helper(
        lambda c, p: c.get_dicomweb_URL(seriesInstanceUID=p["series"]),
        f"""SELECT '{DICOMWEB_PROXY}/studies/' || StudyInstanceUID || '/series/' || SeriesInstanceUID AS url
            FROM index WHERE SeriesInstanceUID = '$series'""",
    ),
    "get_dicomweb_URL_instance_google": Helper(
        lambda c, p: c.get_dicomweb_URL(sopInstanceUID=p["sop"], endpoint="google"),
        f"""SELECT '{DICOMWEB_GOOGLE}/studies/' || s.StudyInstanceUID || '/series/' || s.SeriesInstanceUID
                   || '/instances/' || i.SOPInstanceUID AS url
            FROM sm_instance_index i JOIN index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
            WHERE i.SOPInstanceUID = '$sop'""",
    ),
    "get_series_file_URLs": Helper(
        lambda c, p: c.get_series_file_URLs(p["listed_series"], endpoint_url=p["s3_endpoint"]),
        """SELECT DISTINCT 's3://' || aws_bucket || '/' || crdc_series_uuid AS prefix
           FROM index WHERE SeriesInstanceUID = '$listed_series'""",
        answer=lambda urls: sorted({url.rsplit("/", 1)[0] for url in urls}),
        against_duckdb=False,
    ),
    # Its objects are not DICOM (each row says so in its error column): the series and where its
    # instances were found are the part SQL answers.
    "get_instance_metadata": Helper(
        lambda c, p: c.get_instance_metadata(seriesInstanceUID=p["listed_series"], attributes=["Rows"],
                                             endpoint_url=p["s3_endpoint"], output="arrow"),
        """SELECT DISTINCT SeriesInstanceUID, 's3://' || aws_bucket || '/' || crdc_series_uuid AS prefix
           FROM index WHERE SeriesInstanceUID = '$listed_series'""",
        answer=lambda table: [
            {"SeriesInstanceUID": series, "prefix": prefix} for series, prefix in sorted({
                (row["SeriesInstanceUID"], row["url"].rsplit("/", 1)[0]) for row in table.to_pylist()
            })
        ],
        against_duckdb=False,
    ),
    "get_clinical_table": Helper(
        lambda c, p: c.get_clinical_table("nlst_prsn"),
        "SELECT * FROM read_parquet('$clinical_dir/nlst_prsn.parquet')",
        against_duckdb=False,
    ),
}

# -- SQL -----------------------------------------------------------------------------------------
_DOWNLOAD_COLUMNS = "SeriesInstanceUID, crdc_series_uuid, aws_bucket, series_size_MB"

QUERIES: dict[str, Query] = {
    # Lookups by identifier: one value, and IN lists of 100 and 10,000 values spread across the index.
    # The fixed cost of a query: planning, one row, the result to Arrow.
    "trivial": Query("SELECT 1 AS one"),
    "lookup_series": Query("SELECT * FROM index WHERE SeriesInstanceUID = '$series'"),
    "lookup_series_in_100": Query("SELECT * FROM index WHERE SeriesInstanceUID IN ($series_100)"),
    "lookup_series_in_10000": Query(
        f"SELECT {_DOWNLOAD_COLUMNS} FROM index WHERE SeriesInstanceUID IN ($series_10000)"
    ),
    "lookup_study": Query("SELECT * FROM index WHERE StudyInstanceUID = '$study'"),
    "lookup_study_in_100": Query("SELECT * FROM index WHERE StudyInstanceUID IN ($study_100)"),
    "lookup_study_in_10000": Query(f"SELECT {_DOWNLOAD_COLUMNS} FROM index WHERE StudyInstanceUID IN ($study_10000)"),
    "lookup_patient": Query("SELECT * FROM index WHERE PatientID = '$patient'"),
    "lookup_patient_in_100": Query("SELECT * FROM index WHERE PatientID IN ($patient_100)"),
    "lookup_patient_in_10000": Query(f"SELECT {_DOWNLOAD_COLUMNS} FROM index WHERE PatientID IN ($patient_10000)"),
    "lookup_crdc_uuid": Query("SELECT * FROM index WHERE crdc_series_uuid = '$crdc_series_uuid'"),
    "lookup_crdc_uuid_in_100": Query("SELECT * FROM index WHERE crdc_series_uuid IN ($crdc_series_uuid_100)"),
    "lookup_crdc_uuid_in_10000": Query(
        f"SELECT {_DOWNLOAD_COLUMNS} FROM index WHERE crdc_series_uuid IN ($crdc_series_uuid_10000)"
    ),
    "lookup_idc_index_name": Query(
        "SELECT Modality, COUNT(*) AS n FROM idc_index WHERE PatientID IN ($patient_100) GROUP BY Modality"
    ),
    "lookup_prior_version": Query("SELECT * FROM prior_versions_index WHERE SeriesInstanceUID = '$prior_series'"),
    "lookup_patient_exclude": Query(
        "SELECT * EXCLUDE (series_aws_url, source_DOI) FROM index WHERE PatientID = '$patient' ORDER BY SeriesInstanceUID",
        ordered_by=("SeriesInstanceUID",),
    ),
    # Aggregations over the whole main index.
    "collection_summary": Query(
        """SELECT collection_id, COUNT(DISTINCT PatientID) AS patients, COUNT(*) AS series,
                  SUM(series_size_MB) AS mb FROM index GROUP BY collection_id"""
    ),
    "modality_filter": Query(
        """SELECT BodyPartExamined, COUNT(*) AS n, SUM(instanceCount) AS instances FROM index
           WHERE Modality = 'CT' AND series_size_MB > 10 GROUP BY BodyPartExamined"""
    ),
    "distinct_studies": Query("SELECT COUNT(DISTINCT StudyInstanceUID) AS n FROM index"),
    "like_scan": Query("SELECT COUNT(*) AS n FROM index WHERE SeriesDescription ILIKE '%lung%'"),
    "group_by_modality": Query(
        "SELECT Modality, COUNT(*) AS series, SUM(instanceCount) AS instances FROM index GROUP BY Modality"
    ),
    "group_by_manufacturer_of_mr": Query(
        """SELECT Manufacturer, COUNT(*) AS n FROM index WHERE Modality = 'MR'
           GROUP BY Manufacturer ORDER BY n DESC, Manufacturer""",
        ordered_by=("n", "Manufacturer"),
    ),
    "group_by_bucket": Query(
        "SELECT aws_bucket, COUNT(*) AS series, SUM(series_size_MB) / 1e6 AS tb FROM index GROUP BY aws_bucket"
    ),
    "group_by_analysis_result": Query(
        """SELECT analysis_result_id, COUNT(DISTINCT collection_id) AS collections, COUNT(*) AS series
           FROM index WHERE analysis_result_id IS NOT NULL GROUP BY analysis_result_id"""
    ),
    "group_by_revision": Query(
        """SELECT series_revised_idc_version, series_init_idc_version = series_revised_idc_version AS unrevised,
                  COUNT(*) AS n FROM index GROUP BY 1, 2 ORDER BY 1, 2""",
        ordered_by=("series_revised_idc_version", "unrevised"),
    ),
    "group_by_patient": Query(
        """SELECT PatientID, COUNT(DISTINCT StudyInstanceUID) AS studies, COUNT(*) AS series,
                  SUM(series_size_MB) AS mb FROM index GROUP BY PatientID"""
    ),
    "distinct_and_plain_counts": Query(
        """SELECT collection_id, COUNT(*) AS series, COUNT(DISTINCT SeriesInstanceUID) AS distinct_series,
                  COUNT(SeriesInstanceUID) AS with_uid, COUNT(DISTINCT PatientID) AS patients
           FROM index GROUP BY collection_id"""
    ),
    "group_by_study_having": Query(
        """SELECT StudyInstanceUID, COUNT(*) AS series, STRING_AGG(DISTINCT Modality, ',' ORDER BY Modality) AS modalities
           FROM index GROUP BY StudyInstanceUID HAVING COUNT(*) >= 20"""
    ),
    "patients_with_ct_and_pet": Query(
        """SELECT collection_id, COUNT(*) AS patients FROM (
               SELECT collection_id, PatientID FROM index WHERE Modality IN ('CT', 'PT')
               GROUP BY collection_id, PatientID HAVING COUNT(DISTINCT Modality) = 2)
           GROUP BY collection_id ORDER BY patients DESC, collection_id""",
        ordered_by=("patients", "collection_id"),
    ),
    "largest_series_per_collection": Query(
        """SELECT collection_id, SeriesInstanceUID, series_size_MB FROM index
           QUALIFY row_number() OVER (PARTITION BY collection_id ORDER BY series_size_MB DESC, SeriesInstanceUID) = 1"""
    ),
    "count_unaliased": Query("SELECT Modality, COUNT(*) FROM index GROUP BY Modality"),
    "series_per_patient_division": Query(
        "SELECT Modality, COUNT(*) / COUNT(DISTINCT PatientID) AS series_per_patient FROM index GROUP BY Modality"
    ),
    "count_filter": Query(
        """SELECT collection_id, COUNT(*) FILTER (WHERE Modality = 'SEG') AS segmentations, COUNT(*) AS series
           FROM index GROUP BY collection_id"""
    ),
    "size_percentiles": Query(
        """SELECT Modality, median(series_size_MB) AS median_mb, quantile_cont(series_size_MB, 0.9) AS p90_mb
           FROM index GROUP BY Modality"""
    ),
    "size_classes": Query(
        """SELECT CASE WHEN series_size_MB < 1 THEN 'small' WHEN series_size_MB < 100 THEN 'medium' ELSE 'large' END
                  AS size, COUNT(*) AS n FROM index GROUP BY 1"""
    ),
    "modality_lists": Query(
        "SELECT collection_id, list_sort(list(DISTINCT Modality)) AS modalities FROM index GROUP BY collection_id"
    ),
    "distinct_on_largest": Query(
        """SELECT DISTINCT ON (collection_id) collection_id, SeriesInstanceUID, series_size_MB FROM index
           ORDER BY collection_id, series_size_MB DESC, SeriesInstanceUID""",
        ordered_by=("collection_id",),
    ),
    "not_in_prior_versions": Query(
        """SELECT i.collection_id, COUNT(*) AS never_revised FROM index i
           WHERE NOT EXISTS (SELECT 1 FROM prior_versions_index p WHERE p.SeriesInstanceUID = i.SeriesInstanceUID)
           GROUP BY i.collection_id"""
    ),
    "regexp_description": Query(
        """SELECT collection_id, COUNT(*) AS n FROM index
           WHERE Modality = 'MR' AND regexp_matches(SeriesDescription, '(?i)t1.*post') GROUP BY collection_id"""
    ),
    "studies_per_year_date_part": Query(
        """SELECT date_part('year', CAST(StudyDate AS DATE)) AS year, COUNT(DISTINCT StudyInstanceUID) AS studies
           FROM index WHERE collection_id = 'nlst' GROUP BY 1 ORDER BY 1""",
        ordered_by=("year",),
    ),
    "studies_per_year_function": Query(
        """SELECT year(CAST(StudyDate AS DATE)) AS year, COUNT(DISTINCT StudyInstanceUID) AS studies
           FROM index WHERE collection_id = 'nlst' GROUP BY 1 ORDER BY 1""",
        ordered_by=("year",),
    ),
    # LIKE / ILIKE / DISTINCT / ORDER BY ... LIMIT.
    "like_prefix": Query(
        "SELECT collection_id, COUNT(*) AS n FROM index WHERE collection_id LIKE 'tcga%' GROUP BY collection_id"
    ),
    "like_t2_description": Query(
        """SELECT SeriesInstanceUID, SeriesDescription FROM index
           WHERE Modality = 'MR' AND SeriesDescription LIKE '%T2%' AND SeriesDescription NOT ILIKE '%flair%'"""
    ),
    "ilike_manufacturer": Query(
        """SELECT Manufacturer, ManufacturerModelName, COUNT(*) AS n FROM index
           WHERE Manufacturer ILIKE 'siemens%' GROUP BY ALL"""
    ),
    "distinct_modalities": Query("SELECT DISTINCT Modality FROM index"),
    "distinct_body_parts_of_ct": Query(
        "SELECT DISTINCT BodyPartExamined FROM index WHERE Modality = 'CT' ORDER BY BodyPartExamined",
        ordered_by=("BodyPartExamined",),
    ),
    "largest_series": Query(
        "SELECT SeriesInstanceUID, collection_id, series_size_MB FROM index ORDER BY series_size_MB DESC LIMIT 10",
        ordered_by=("series_size_MB",),
    ),
    "most_instances_rows": Query(
        "SELECT * FROM index ORDER BY instanceCount DESC, SeriesInstanceUID LIMIT 100",
        ordered_by=("instanceCount", "SeriesInstanceUID"),
    ),
    "latest_studies": Query(
        """SELECT StudyInstanceUID, StudyDate, collection_id FROM index WHERE StudyDate IS NOT NULL
           ORDER BY StudyDate DESC, StudyInstanceUID LIMIT 25""",
        ordered_by=("StudyDate", "StudyInstanceUID"),
    ),
    "quoted_wrong_case": Query("""SELECT "seriesinstanceuid", "modality" FROM index WHERE "patientid" = '$patient'"""),
    # The other installed indices: filters and ORDER BY.
    "prior_versions_by_collection": Query(
        """SELECT collection_id, COUNT(*) AS series, SUM(series_size_MB) AS mb FROM prior_versions_index
           WHERE max_idc_version < 25 GROUP BY collection_id ORDER BY series DESC, collection_id""",
        ordered_by=("series", "collection_id"),
    ),
    "prior_versions_largest": Query(
        """SELECT SeriesInstanceUID, Modality, min_idc_version, max_idc_version, series_size_MB
           FROM prior_versions_index WHERE Modality = 'SM' ORDER BY series_size_MB DESC, SeriesInstanceUID LIMIT 20""",
        ordered_by=("series_size_MB", "SeriesInstanceUID"),
    ),
    "collections_filter": Query(
        """SELECT collection_id, cancer_types, tumor_locations, subjects FROM collections_index
           WHERE species = 'Human' AND subjects > 100 ORDER BY subjects DESC, collection_id""",
        ordered_by=("subjects", "collection_id"),
    ),
    "analysis_results_of_a_collection": Query(
        """SELECT analysis_result_id, analysis_result_title, subjects FROM analysis_results_index
           WHERE collections LIKE '%tcga_luad%' ORDER BY subjects DESC, analysis_result_id""",
        ordered_by=("subjects", "analysis_result_id"),
    ),
    "analysis_results_provenance": Query(
        """SELECT provenance.source_data_provider AS provider, COUNT(*) AS results, SUM(subjects) AS subjects
           FROM analysis_results_index GROUP BY provenance.source_data_provider"""
    ),
    "analysis_results_first_collection": Query(
        """SELECT string_split(collections, ', ')[1] AS first_collection, analysis_result_id
           FROM analysis_results_index"""
    ),
    "version_metadata": Query(
        "SELECT idc_version, version_timestamp FROM version_metadata_index WHERE idc_version >= 20 ORDER BY 1 DESC",
        ordered_by=("idc_version",),
    ),
    "sm_index_filter": Query(
        """SELECT SeriesInstanceUID, max_TotalPixelMatrixColumns, min_PixelSpacing_2sf FROM sm_index
           WHERE ObjectiveLensPower = 40 AND primaryAnatomicStructure_CodeMeaning = 'Lung'
           ORDER BY max_TotalPixelMatrixColumns DESC, SeriesInstanceUID LIMIT 50""",
        ordered_by=("max_TotalPixelMatrixColumns", "SeriesInstanceUID"),
    ),
    "sm_instance_base_layer": Query(
        """SELECT SOPInstanceUID, TotalPixelMatrixColumns FROM sm_instance_index
           WHERE SeriesInstanceUID = '$sm_series' ORDER BY TotalPixelMatrixColumns DESC LIMIT 1""",
        ordered_by=("TotalPixelMatrixColumns",),
        source="IDC-Tutorials advanced_topics/gcs_aws_direct_access.ipynb",
    ),
    "sm_instance_by_sop": Query("SELECT * FROM sm_instance_index WHERE SOPInstanceUID = '$sop'"),
    "seg_index_filter": Query(
        """SELECT AlgorithmName, SegmentationType, COUNT(*) AS n, SUM(total_segments) AS segments FROM seg_index
           WHERE AlgorithmType = 'AUTOMATIC' GROUP BY AlgorithmName, SegmentationType"""
    ),
    "seg_list_contains": Query(
        """SELECT SeriesInstanceUID, total_segments FROM seg_index
           WHERE list_contains(SegmentedPropertyType_CodeMeanings, 'Liver') AND total_segments > 20"""
    ),
    "ann_group_by_graphic_type": Query(
        """SELECT GraphicType, AnnotationPropertyType_CodeMeaning, COUNT(*) AS groups,
                  SUM(NumberOfAnnotations) AS annotations
           FROM ann_group_index GROUP BY 1, 2 ORDER BY annotations DESC""",
        ordered_by=("annotations",),
    ),
    "clinical_index_of_a_collection": Query(
        "SELECT * FROM clinical_index WHERE collection_id = 'rms_mutation_prediction'",
        source="IDC-Tutorials getting_started/exploring_clinical_data.ipynb",
    ),
    "clinical_index_values": Query(
        """SELECT table_name, "column", v.option_code, v.option_description
           FROM (SELECT table_name, "column", unnest("values") AS v FROM clinical_index)"""
    ),
    # Joins of the main index with the small tables and the optional indices.
    "join_collections": Query(
        """SELECT i.collection_id, i.PatientID, i.SeriesInstanceUID, i.Modality
           FROM index i JOIN collections_index c ON i.collection_id = c.collection_id
           WHERE c.cancer_types LIKE '%Breast%' AND i.Modality = 'MR'"""
    ),
    "join_collections_license": Query(
        """SELECT c.collection_name, i.license_short_name, COUNT(*) AS series, SUM(i.series_size_MB) AS mb
           FROM index i JOIN collections_index c USING (collection_id)
           GROUP BY c.collection_name, i.license_short_name ORDER BY c.collection_name, i.license_short_name""",
        ordered_by=("collection_name", "license_short_name"),
    ),
    "join_analysis_results": Query(
        """SELECT a.analysis_result_id, a.analysis_result_title, a.license_short_name,
                  COUNT(*) AS series, SUM(i.series_size_MB) AS mb
           FROM index i JOIN analysis_results_index a ON i.analysis_result_id = a.analysis_result_id
           GROUP BY a.analysis_result_id, a.analysis_result_title, a.license_short_name"""
    ),
    "join_prior_versions": Query(
        """SELECT i.collection_id, COUNT(*) AS series, SUM(p.series_size_MB - i.series_size_MB) AS mb_change
           FROM index i JOIN prior_versions_index p ON i.SeriesInstanceUID = p.SeriesInstanceUID
           WHERE i.crdc_series_uuid <> p.crdc_series_uuid GROUP BY i.collection_id"""
    ),
    "join_sm_index": Query(
        """SELECT i.collection_id, s.ObjectiveLensPower, COUNT(*) AS slides, AVG(s.min_PixelSpacing_2sf) AS spacing
           FROM index i JOIN sm_index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
           GROUP BY i.collection_id, s.ObjectiveLensPower"""
    ),
    "join_sm_instance_index": Query(
        """SELECT i.collection_id, COUNT(*) AS instances, SUM(s.instance_size) AS bytes,
                  MAX(s.TotalPixelMatrixColumns) AS widest
           FROM sm_instance_index s JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
           WHERE i.collection_id LIKE 'cptac%' GROUP BY i.collection_id"""
    ),
    "join_seg_index": Query(
        """SELECT s.SeriesInstanceUID AS seg_series, s.AlgorithmName, s.total_segments, src.collection_id,
                  src.Modality AS source_modality, src.BodyPartExamined
           FROM seg_index s JOIN index src ON s.segmented_SeriesInstanceUID = src.SeriesInstanceUID
           WHERE s.AlgorithmType = 'AUTOMATIC' AND src.collection_id = 'nlst'"""
    ),
    "join_ann_index": Query(
        """SELECT ref.collection_id, a.AnnotationCoordinateType, COUNT(*) AS annotation_series,
                  SUM(g.NumberOfAnnotations) AS annotations
           FROM ann_index a JOIN ann_group_index g ON a.SeriesInstanceUID = g.SeriesInstanceUID
           JOIN index ref ON a.referenced_SeriesInstanceUID = ref.SeriesInstanceUID
           GROUP BY ref.collection_id, a.AnnotationCoordinateType"""
    ),
    # The per-modality metadata indices, as the imaging-data-commons skill's SQL patterns read them.
    "ct_thin_slices": Query(
        """SELECT i.collection_id, COUNT(*) AS series, AVG(c.SliceThickness) AS thickness
           FROM index i JOIN ct_index c ON i.SeriesInstanceUID = c.SeriesInstanceUID
           WHERE c.SliceThickness <= 2.0 GROUP BY i.collection_id ORDER BY series DESC, i.collection_id""",
        ordered_by=("series", "collection_id"),
    ),
    "mr_field_strength": Query(
        """SELECT m.MagneticFieldStrength, COUNT(*) AS series FROM mr_index m
           GROUP BY m.MagneticFieldStrength ORDER BY m.MagneticFieldStrength""",
        ordered_by=("MagneticFieldStrength",),
    ),
    "pt_units": Query(
        """SELECT p.Units, COUNT(*) AS series, MAX(p.RadionuclideTotalDose) AS max_dose FROM pt_index p
           GROUP BY p.Units ORDER BY p.Units""",
        ordered_by=("Units",),
    ),
    "rtstruct_rois_by_collection": Query(
        """SELECT i.collection_id, COUNT(*) AS rtstruct_series, ROUND(AVG(r.total_rois), 1) AS avg_rois
           FROM index i JOIN rtstruct_index r ON i.SeriesInstanceUID = r.SeriesInstanceUID
           GROUP BY i.collection_id ORDER BY rtstruct_series DESC, i.collection_id""",
        ordered_by=("rtstruct_series", "collection_id"),
    ),
    "contrast_of_ct": Query(
        """SELECT i.collection_id, COUNT(*) AS series FROM index i
           JOIN contrast_index c ON i.SeriesInstanceUID = c.SeriesInstanceUID
           WHERE i.Modality = 'CT' AND len(c.ContrastBolusAgent) > 0 GROUP BY i.collection_id"""
    ),
    "volume_geometry_valid_3d": Query(
        """SELECT i.collection_id, COUNT(*) AS total_ct,
                  SUM(CASE WHEN v.regularly_spaced_3d_volume THEN 1 ELSE 0 END) AS valid_3d
           FROM index i JOIN volume_geometry_index v ON i.SeriesInstanceUID = v.SeriesInstanceUID
           WHERE i.Modality = 'CT' GROUP BY i.collection_id"""
    ),
    # The nested columns of collections_index.
    "sources_first_doi": Query(
        "SELECT collection_id, sources[1].source_doi AS doi FROM collections_index ORDER BY collection_id",
        ordered_by=("collection_id",),
    ),
    "sources_first_doi_brackets": Query(
        "SELECT collection_id, sources[1]['source_doi'] AS doi FROM collections_index ORDER BY collection_id",
        ordered_by=("collection_id",),
    ),
    "sources_first_license": Query(
        """SELECT sources[1].license.license_short_name AS license, COUNT(*) AS collections FROM collections_index
           GROUP BY 1"""
    ),
    "sources_count_len": Query("SELECT collection_id, len(sources) AS n FROM collections_index WHERE len(sources) > 1"),
    "sources_count_array_length": Query(
        "SELECT collection_id, array_length(sources) AS n FROM collections_index WHERE array_length(sources) > 1"
    ),
    "sources_unnest": Query(
        """SELECT s.source_doi, s.license.license_short_name AS license, s.provenance.data_contributor AS contributor
           FROM (SELECT unnest(sources) AS s FROM collections_index)"""
    ),
    "licenses_of_sources": Query(
        """SELECT s.license.license_short_name AS license, COUNT(DISTINCT collection_id) AS collections
           FROM (SELECT collection_id, unnest(sources) AS s FROM collections_index) GROUP BY 1 ORDER BY 2 DESC, 1""",
        ordered_by=("collections", "license"),
    ),
    # The queries of IDC's tutorials.
    "tutorial_mr_series": Query(
        "SELECT *\nFROM index\nWHERE Modality = 'MR'",
        source="IDC-Tutorials getting_started/part2_searching_basics.ipynb",
    ),
    "tutorial_liver_mr": Query(
        "SELECT *\nFROM index\nWHERE Modality = 'MR' AND BodyPartExamined = 'LIVER'",
        source="IDC-Tutorials getting_started/part2_searching_basics.ipynb",
    ),
    "tutorial_collections_of_liver_mr": Query(
        "SELECT\n  DISTINCT(collection_id)\nFROM\n  index\nWHERE\n  Modality = 'MR'\n  AND BodyPartExamined = 'LIVER'",
        source="IDC-Tutorials deprecated/idc_rsna2023.ipynb",
    ),
    "tutorial_modalities_and_body_parts": Query(
        """SELECT
  collection_id,
  STRING_AGG(DISTINCT(Modality)) as modalities,
  STRING_AGG(DISTINCT(BodyPartExamined)) as body_parts
FROM
  index
GROUP BY
  collection_id
ORDER BY
  collection_id ASC""",
        ordered_by=("collection_id",),
        unordered_lists=("modalities", "body_parts"),
        source="IDC-Tutorials deprecated/idc_rsna2023.ipynb",
    ),
    "tutorial_prostate_mr_summary": Query(
        """SELECT
  collection_id,
  COUNT(DISTINCT(PatientID)) as patient_count,
  COUNT(DISTINCT(StudyInstanceUID)) as study_count,
  COUNT(DISTINCT(SeriesInstanceUID)) as series_count,
  STRING_AGG(DISTINCT(Manufacturer)) as manufacturers,
  SUM(series_size_MB)/1000 as total_size_GB
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'PROSTATE'
GROUP BY
  collection_id
ORDER BY
  patient_count DESC""",
        ordered_by=("patient_count",),
        unordered_lists=("manufacturers",),
        source="IDC-Tutorials deprecated/idc_rsna2023.ipynb",
    ),
    "tutorial_prostate_doi_urls": Query(
        """SELECT
  SeriesInstanceUID,
  SeriesDescription,
  series_aws_url,
  license_short_name,
  CONCAT('https://doi.org/',source_DOI) as source_DOI_URL
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'PROSTATE'""",
        source="IDC-Tutorials deprecated/idc_rsna2023.ipynb",
    ),
    "tutorial_viewer_urls": Query(
        """SELECT
  SeriesDescription,
  CONCAT('https://viewer.imaging.datacommons.cancer.gov/viewer/',
     StudyInstanceUID,
     '?SeriesInstanceUID=',
     SeriesInstanceUID) as ohif_v2_url,
  CONCAT('https://viewer.imaging.datacommons.cancer.gov/v3/viewer/?StudyInstanceUIDs=',
  StudyInstanceUID,
  '&SeriesInstanceUID=',
  SeriesInstanceUID) as ohif_v3_url,
  CONCAT('https://volview.kitware.app/?urls=[',
  series_aws_url,
  ']') as volview_url
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'PROSTATE'
LIMIT
  10""",
        sample=True,
        source="IDC-Tutorials deprecated/idc_rsna2023.ipynb",
    ),
    "tutorial_nlst_summary": Query(
        """SELECT
  collection_id,
  analysis_result_id,
  source_DOI,
  Modality,
  SUM(series_size_MB)/1E6 AS total_size_TB,
  COUNT(DISTINCT SeriesInstanceUID) AS series_count
FROM
  index
WHERE
  collection_id = 'nlst'
GROUP BY
  collection_id,
  analysis_result_id,
  source_DOI,
  Modality
ORDER BY
  analysis_result_id,
  Modality""",
        ordered_by=("analysis_result_id", "Modality"),
        source="IDC-Tutorials collections_demos/nlst_exploration.ipynb",
    ),
    "tutorial_nlst_ct": Query(
        "SELECT\n  SeriesInstanceUID\nFROM\n  index\nWHERE\n  collection_id = 'nlst' AND\n  Modality = 'CT'",
        source="IDC-Tutorials collections_demos/nlst_exploration.ipynb",
    ),
    "tutorial_studies_of_a_patient": Query(
        """SELECT
  StudyInstanceUID,
  STRING_AGG(DISTINCT(Modality)) AS modalities,
  STRING_AGG(DISTINCT(collection_id)) AS collection_id,
  COUNT(DISTINCT(SeriesInstanceUID)) AS num_series,
  ANY_VALUE(CONCAT('https://viewer.imaging.datacommons.cancer.gov/viewer/', StudyInstanceUID)) as viewer_url
FROM index
WHERE PatientID = 'HCC_103'
GROUP BY StudyInstanceUID""",
        unordered_lists=("modalities",),
        source="IDC-Tutorials advanced_topics/clinical_data_intro.ipynb",
    ),
    "tutorial_rms_sr": Query(
        """SELECT
    SeriesInstanceUID,
    StudyInstanceUID,
    PatientID
FROM
    index
WHERE
    collection_id = 'rms_mutation_prediction' AND Modality = 'SR'""",
        source="IDC-Tutorials collections_demos/rms_mutation_prediction",
    ),
    "tutorial_pathology_slides": Query(
        """SELECT
    index.SeriesInstanceUID,
    index.StudyInstanceUID,
    index.collection_id,
    sm_index.primaryAnatomicStructureModifier_CodeMeaning
FROM
    index
JOIN
    sm_index ON sm_index.SeriesInstanceUID = index.SeriesInstanceUID
WHERE
    index.collection_id = 'cptac_luad' OR index.collection_id = 'cptac_lscc'
ORDER BY index.SeriesInstanceUID""",
        ordered_by=("SeriesInstanceUID",),
        source="IDC-Tutorials pathomics/getting_started_with_digital_pathology.ipynb",
    ),
    "tutorial_slides_by_id": Query(
        """SELECT
    index.SeriesInstanceUID as digital_slide_id,
    index.StudyInstanceUID as case_id,
    (REPLACE (REPLACE(index.collection_id, 'cptac_luad', 'luad'), 'cptac_lscc', 'lscc')) AS cancer_subtype,
    -- The 'tissue_types' indicates whether a slides contains normal, tumor or other tisse.
    sm_index.primaryAnatomicStructureModifier_CodeMeaning as tissue_type
FROM
    index
JOIN
    sm_index ON sm_index.SeriesInstanceUID = index.SeriesInstanceUID
WHERE
    (index.SeriesInstanceUID = '$cptac_slide_1'
    OR index.SeriesInstanceUID = '$cptac_slide_2'
    OR index.SeriesInstanceUID = '$cptac_slide_3')
    AND index.Modality = 'SM'""",
        source="IDC-Tutorials labs/idc_isbi2024.ipynb",
    ),
    "tutorial_pancreas_slides": Query(
        """SELECT index.StudyInstanceUID, sm_index.SeriesInstanceUID
FROM sm_index
JOIN index ON sm_index.SeriesInstanceUID = index.SeriesInstanceUID
WHERE Modality = 'SM' AND primaryAnatomicStructure_CodeMeaning = 'Pancreas'""",
        source="IDC-Tutorials advanced_topics/idc_dicomweb_access.ipynb",
    ),
    "tutorial_index_statistics": Query(
        """SELECT
        COUNT(DISTINCT collection_id) as collections,
        COUNT(DISTINCT analysis_result_id) as analysis_results,
        COUNT(DISTINCT PatientID) as patients,
        COUNT(DISTINCT StudyInstanceUID) as studies,
        COUNT(DISTINCT SeriesInstanceUID) as series,
        SUM(instanceCount) as instances,
        SUM(series_size_MB)/1000000 as size_TB
    FROM index""",
        source="ImagingDataCommons/idc-claude-skill SKILL.md",
    ),
    "tutorial_licenses": Query(
        """SELECT DISTINCT
  collection_id,
  license_short_name,
  COUNT(DISTINCT SeriesInstanceUID) as series_count
FROM index
GROUP BY collection_id, license_short_name
ORDER BY collection_id""",
        ordered_by=("collection_id",),
        source="ImagingDataCommons/idc-claude-skill SKILL.md",
    ),
    "tutorial_brain_mr_manufacturers": Query(
        """SELECT
  Manufacturer,
  ManufacturerModelName,
  COUNT(DISTINCT SeriesInstanceUID) as num_series,
  COUNT(DISTINCT PatientID) as num_patients
FROM index
WHERE Modality = 'MR'
  AND BodyPartExamined LIKE '%BRAIN%'
GROUP BY Manufacturer, ManufacturerModelName
HAVING num_series >= 10
ORDER BY num_series DESC""",
        ordered_by=("num_series",),
        source="ImagingDataCommons/idc-claude-skill SKILL.md",
    ),
    "tutorial_ct_body_parts": Query(
        """SELECT DISTINCT BodyPartExamined, COUNT(*) as n
    FROM index WHERE Modality = 'CT' AND BodyPartExamined IS NOT NULL
    GROUP BY BodyPartExamined ORDER BY n DESC""",
        ordered_by=("n",),
        source="ImagingDataCommons/idc-claude-skill SKILL.md",
    ),
    "tutorial_chest_ct_slices": Query(
        """SELECT SeriesInstanceUID, PatientID, collection_id, instanceCount AS slices
FROM index
WHERE Modality = 'CT' AND BodyPartExamined = 'CHEST' AND instanceCount >= 100
ORDER BY instanceCount DESC
LIMIT 50""",
        ordered_by=("slices",),
    ),
    "tutorial_commercial_use": Query(
        """SELECT
  SeriesInstanceUID,
  collection_id,
  PatientID,
  Modality
FROM index
WHERE license_short_name LIKE 'CC BY%'
  AND license_short_name NOT LIKE '%NC%'
  AND Modality IN ('CT', 'MR')
  AND BodyPartExamined IN ('CHEST', 'BRAIN', 'ABDOMEN')
LIMIT 200""",
        sample=True,
        source="ImagingDataCommons/idc-claude-skill SKILL.md",
    ),
    "tutorial_segmentations_by_collection": Query(
        """SELECT collection_id, Modality, COUNT(*) as series_count
    FROM index
    WHERE Modality IN ('SEG', 'RTSTRUCT')
    GROUP BY collection_id, Modality
    ORDER BY series_count DESC""",
        ordered_by=("series_count",),
        source="ImagingDataCommons/idc-claude-skill SKILL.md",
    ),
    "tutorial_patient_age_sex": Query(
        """SELECT PatientSex, COUNT(DISTINCT PatientID) AS patients,
       AVG(TRY_CAST(SUBSTRING(PatientAge, 1, 3) AS INTEGER)) AS mean_age,
       MIN(PatientAge) AS youngest, MAX(PatientAge) AS oldest
FROM index
WHERE collection_id = 'nlst'
GROUP BY PatientSex
ORDER BY PatientSex""",
        ordered_by=("PatientSex",),
    ),
    "tutorial_series_size_by_collection_and_modality": Query(
        """SELECT collection_id, Modality, COUNT(*) AS series, ROUND(SUM(series_size_MB) / 1024, 2) AS size_GB
FROM index
GROUP BY collection_id, Modality
ORDER BY size_GB DESC, collection_id, Modality""",
        ordered_by=("size_GB", "collection_id", "Modality"),
    ),
    "tutorial_studies_per_year": Query(
        """SELECT SUBSTRING(StudyDate, 1, 4) AS year, COUNT(DISTINCT StudyInstanceUID) AS studies
FROM index
WHERE collection_id = 'nlst'
GROUP BY year
ORDER BY year""",
        ordered_by=("year",),
    ),
}

CATALOG: dict[str, Query | Helper] = {**HELPERS, **QUERIES}
assert len(CATALOG) == len(HELPERS) + len(QUERIES), "a name is both a helper and a query"


# -- parameters ----------------------------------------------------------------------------------
def _spread(con: duckdb.DuckDBPyConnection, table: str, column: str, n: int, where: str = "TRUE") -> list[str]:
    """``n`` distinct values of ``column`` evenly spaced in sorted order."""
    values = [
        r[0]
        for r in con.sql(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL AND {where} ORDER BY 1"
        ).fetchall()
    ]
    assert len(values) >= n, f"{table}.{column} has {len(values)} distinct values, fewer than {n}"
    return [values[i * len(values) // n] for i in range(n)]


def draw_params(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The parameters of the catalog, drawn from the tables of ``con`` (a :func:`duckdb_connection`)."""
    p: dict[str, Any] = {}
    # The series the benchmarks have always used: the 5001st of nlst in SeriesInstanceUID order.
    ((p["series"], p["study"], p["patient"], p["crdc_series_uuid"]),) = con.sql(
        "SELECT SeriesInstanceUID, StudyInstanceUID, PatientID, crdc_series_uuid FROM index "
        "WHERE collection_id = 'nlst' ORDER BY SeriesInstanceUID LIMIT 1 OFFSET 5000"
    ).fetchall()
    for key, column in (
        ("series", "SeriesInstanceUID"),
        ("study", "StudyInstanceUID"),
        ("patient", "PatientID"),
        ("crdc_series_uuid", "crdc_series_uuid"),
    ):
        for n in (100, 10_000):
            p[f"{key}_{n}"] = _spread(con, "index", column, n)
    (p["sm_series"],) = _spread(con, "index", "SeriesInstanceUID", 1, "Modality = 'SM' AND collection_id = 'tcga_luad'")
    ((p["sm_study"],),) = con.sql(
        f"SELECT StudyInstanceUID FROM index WHERE SeriesInstanceUID = '{p['sm_series']}'"
    ).fetchall()
    ((p["sop"],),) = con.sql(
        f"SELECT SOPInstanceUID FROM sm_instance_index WHERE SeriesInstanceUID = '{p['sm_series']}' "
        "ORDER BY TotalPixelMatrixColumns DESC LIMIT 1"
    ).fetchall()
    slides = _spread(
        con, "index", "SeriesInstanceUID", 3, "Modality = 'SM' AND collection_id IN ('cptac_luad', 'cptac_lscc')"
    )
    p["cptac_slide_1"], p["cptac_slide_2"], p["cptac_slide_3"] = slides
    (p["prior_series"],) = _spread(con, "prior_versions_index", "SeriesInstanceUID", 1)
    # An image series that both a segmentation and a structure set reference.
    ((p["derived_from"],),) = con.sql(
        "SELECT DISTINCT s.segmented_SeriesInstanceUID FROM seg_index s JOIN rtstruct_index r "
        "ON s.segmented_SeriesInstanceUID = r.referenced_SeriesInstanceUID ORDER BY 1 LIMIT 1"
    ).fetchall()
    return p


def catalog_params(client: Any, s3: Any) -> dict[str, Any]:
    """:func:`draw_params` over the tables of ``client``, and what the helpers need besides: a
    series whose files are on the S3 server ``s3`` (tests/s3server.py), and the directory of
    the client's clinical tables."""
    from idc_testdata import REAL_INDEX
    from s3server import seed_idc_layout

    p = draw_params(duckdb_connection(table_paths(client)))
    (listed,) = seed_idc_layout(
        s3, REAL_INDEX, {"idc-open-data": 1}, instances=(3, 3), sizes=(1_000, 5_000), seed=3, skip=25
    )
    p["listed_series"] = listed.series_instance_uid
    p["s3_endpoint"] = s3.endpoint
    p["clinical_dir"] = client.clinical_data_dir
    return p


def _sql_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join("'" + str(v).replace("'", "''") + "'" for v in value)
    return str(value)


def sql_for(entry: Query | Helper, params: Mapping[str, Any]) -> str:
    """The SQL of ``entry`` with its parameters filled in."""
    assert entry.sql is not None
    return Template(entry.sql).substitute({k: _sql_value(v) for k, v in params.items()})


def has_limit(sql: str) -> bool:
    """Whether the outermost query ends in ``LIMIT n``."""
    return re.search(r"\bLIMIT\s+\d+\s*$", sql, re.IGNORECASE) is not None


def without_limit(sql: str) -> str:
    """``sql`` without its final ``LIMIT n``."""
    return re.sub(r"\bLIMIT\s+\d+\s*$", "", sql.rstrip(), flags=re.IGNORECASE)


# -- DuckDB over the files our engine reads ------------------------------------------------------
def table_paths(client: Any) -> dict[str, str]:
    """Each table of ``client`` and the parquet file its engine reads."""
    engine = client._engine
    return {name: engine.table_path(name) for name in engine.table_names()}


def duckdb_connection(tables: Mapping[str, str]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per table over its parquet file."""
    import duckdb

    con = duckdb.connect()
    for name, path in tables.items():
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{path}')")
    return con


__all__ = [
    "CATALOG",
    "HELPERS",
    "OPTIONAL_INDICES",
    "QUERIES",
    "Helper",
    "Query",
    "catalog_params",
    "draw_params",
    "duckdb_connection",
    "has_limit",
    "sql_for",
    "table_paths",
    "without_limit",
]
