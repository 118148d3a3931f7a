"""The SQL that users publish for idc-index, as it is passed to ``IDCClient.sql_query`` (or to
``IDCClient._duckdb_conn.execute``) in public repositories:

- ``ImagingDataCommons/IDC-Tutorials``:               21 queries (3 exact duplicates left out)
- ``ImagingDataCommons/SlicerIDCBrowser``:             2 queries (0 exact duplicates left out)
- ``ImagingDataCommons/imaging-data-commons-skill``: 112 queries (28 exact duplicates left out)
- ``ImagingDataCommons/idc-index``:                   13 queries (0 exact duplicates left out)
- ``kirbyju/tcia_utils``:                             25 queries (4 exact duplicates left out)
- in all: 173 queries

The repositories and files read:

- IDC-Tutorials: the notebooks (code cells) under ``notebooks/``;
- SlicerIDCBrowser: ``IDCBrowser/IDCBrowser.py``;
- imaging-data-commons-skill: the Python blocks of ``SKILL.md`` and ``references/*.md``, and
  ``tests/test_snippets.py``;
- idc-index: ``README.md`` and ``tests/idcindex.py``;
- tcia_utils: ``src/tcia_utils/idc.py`` (each query as its function builds it when called with
  ``collection="tcga_luad"``).

Each query is kept as published. F-string and ``str.format`` fields and ``?`` parameters are
filled with real values of the IDC v25 index (idc-index-data 25.0.5): series, studies and
patients of ``tcga_luad``, ``nsclc_radiomics`` and ``rms_mutation_prediction``, and a version
date of ``version_metadata_index``; a query run once per table (``SELECT COUNT(*) FROM
{index_name}``) is listed once per table of a release.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    """One published query.

    Attributes:
        source: ``<owner>/<repo>:<path>`` of the file it is published in.
        sql: the SQL, in the DuckDB dialect of idc-index 0.13.
        ordered: the SQL fixes the order of all rows (an ORDER BY at the top level).
        ordered_by: with ``ordered``, the result columns its ORDER BY fixes when rows may tie on
            them (in any order among themselves); empty: every column.
        needs: the optional indices it reads, fetched before it runs.
        unordered_lists: columns of comma-joined values that the SQL aggregates without an order
            (``STRING_AGG(DISTINCT x)``): compared as sets of values.
    """

    source: str
    sql: str
    ordered: bool = False
    ordered_by: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    unordered_lists: tuple[str, ...] = ()


QUERIES: tuple[Query, ...] = (
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/advanced_topics/clinical_data_intro.ipynb",
        sql="""
SELECT
  ANY_VALUE(PatientID) AS PatientID,
  STRING_AGG(DISTINCT(acrin_6698_clinical_df.sbrgrade)) as tumor_grade,
  STRING_AGG(DISTINCT(Modality)) AS modalities,
  COUNT(DISTINCT(SeriesInstanceUID)) AS num_series,
  ANY_VALUE(CONCAT('https://viewer.imaging.datacommons.cancer.gov/viewer/', StudyInstanceUID)) AS viewer_url
FROM
  index
JOIN
  acrin_6698_clinical_df
ON
  index.PatientID = acrin_6698_clinical_df.dicom_patient_id
GROUP BY
  StudyInstanceUID
ORDER BY
  PatientID
""",
        ordered=True,
        unordered_lists=('modalities',),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/advanced_topics/clinical_data_intro.ipynb",
        sql="""
SELECT
  StudyInstanceUID,
  STRING_AGG(DISTINCT(Modality)) AS modalities,
  STRING_AGG(DISTINCT(collection_id)) AS collection_id,
  COUNT(DISTINCT(SeriesInstanceUID)) AS num_series,
  ANY_VALUE(CONCAT('https://viewer.imaging.datacommons.cancer.gov/viewer/', StudyInstanceUID)) as viewer_url
FROM index
WHERE PatientID = 'HCC_103'
GROUP BY StudyInstanceUID
""",
        unordered_lists=('modalities', 'collection_id'),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/advanced_topics/gcs_aws_direct_access.ipynb",
        sql="""
SELECT SOPInstanceUID, TotalPixelMatrixColumns
FROM sm_instance_index
WHERE SeriesInstanceUID = '1.3.6.1.4.1.5962.99.1.1900325859.924065538.1719887277027.4.0'
ORDER BY TotalPixelMatrixColumns DESC
LIMIT 1
""",
        ordered=True,
        needs=('sm_instance_index',),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/advanced_topics/idc_dicomweb_access.ipynb",
        sql="""
SELECT index.StudyInstanceUID, sm_index.SeriesInstanceUID
FROM sm_index
JOIN index ON sm_index.SeriesInstanceUID = index.SeriesInstanceUID
WHERE Modality = 'SM' AND primaryAnatomicStructure_CodeMeaning = 'Pancreas'
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/collections_demos/nlst_exploration.ipynb",
        sql="""
SELECT
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
  Modality
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/collections_demos/nlst_exploration.ipynb",
        sql="""
SELECT
  SeriesInstanceUID
FROM
  index
WHERE
  collection_id = 'nlst' AND
  Modality = 'CT'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/collections_demos/rms_mutation_prediction/RMS-Mutation-Prediction-Expert-Annotations_exploration.ipynb",
        sql="""
SELECT
    SeriesInstanceUID,
    StudyInstanceUID,
    PatientID
FROM
    index
WHERE
    collection_id = 'rms_mutation_prediction' AND Modality = 'SR'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/collections_demos/rms_mutation_prediction/RMS-Mutation-Prediction-Expert-Annotations_exploration.ipynb",
        sql="""
SELECT
    SeriesInstanceUID
FROM
    index
WHERE
    SeriesInstanceUID = '1.3.6.1.4.1.5962.99.1.1357278820.1672538638.1689279458916.4.0' AND Modality = 'SM'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
  DISTINCT(collection_id)
FROM
  index
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
  collection_id,
  STRING_AGG(DISTINCT(Modality)) as modalities,
  STRING_AGG(DISTINCT(BodyPartExamined)) as body_parts
FROM
  index
GROUP BY
  collection_id
ORDER BY
  collection_id ASC
""",
        unordered_lists=('modalities', 'body_parts'),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
  DISTINCT(collection_id)
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'LIVER'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
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
  patient_count DESC
""",
        unordered_lists=('manufacturers',),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
  SeriesInstanceUID,
  SeriesDescription,
  series_aws_url,
  license_short_name,
  source_DOI
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'PROSTATE'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
  SeriesInstanceUID,
  SeriesDescription,
  series_aws_url,
  license_short_name,
  CONCAT('https://doi.org/',source_DOI) as source_DOI_URL
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'PROSTATE'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
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
  10
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2023.ipynb",
        sql="""
SELECT
  CONCAT('cp ',series_aws_url,' /content/idc_downloads') as cp_command
FROM
  index
WHERE
  Modality = 'MR'
  AND BodyPartExamined = 'PROSTATE'
LIMIT
  10
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2024.ipynb",
        sql="""
SELECT *
FROM index
WHERE Modality = 'MR'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/deprecated/idc_rsna2024.ipynb",
        sql="""
SELECT *
FROM index
WHERE Modality = 'MR' AND BodyPartExamined = 'LIVER'
""",
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/getting_started/exploring_clinical_data.ipynb",
        sql="""
SELECT *
FROM clinical_index
WHERE collection_id = 'rms_mutation_prediction'
""",
        needs=('clinical_index',),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/labs/idc_isbi2024.ipynb",
        sql="""
SELECT
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
    (index.SeriesInstanceUID = '1.3.6.1.4.1.5962.99.1.261553051.626883586.1640939092891.2.0'
    OR index.SeriesInstanceUID = '1.3.6.1.4.1.5962.99.1.223072275.1494200661.1640900612115.2.0'
    OR index.SeriesInstanceUID = '1.3.6.1.4.1.5962.99.1.255269468.207807501.1640932809308.2.0')
    AND index.Modality = 'SM'
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/IDC-Tutorials:notebooks/pathomics/getting_started_with_digital_pathology.ipynb",
        sql="""
SELECT
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
ORDER BY index.SeriesInstanceUID
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/SlicerIDCBrowser:IDCBrowser/IDCBrowser.py",
        sql="""
SELECT SeriesInstanceUID, segmented_SeriesInstanceUID
FROM seg_index
WHERE SeriesInstanceUID IN ('1.2.276.0.7230010.3.1.3.2323910823.10112.1597257772.658', '1.2.276.0.7230010.3.1.3.2323910823.10252.1597261128.805')
  AND segmented_SeriesInstanceUID IS NOT NULL
  AND segmented_SeriesInstanceUID != ''
""",
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/SlicerIDCBrowser:IDCBrowser/IDCBrowser.py",
        sql="""
SELECT SeriesInstanceUID, referenced_SeriesInstanceUID
FROM rtstruct_index
WHERE SeriesInstanceUID IN ('1.2.276.0.7230010.3.1.3.2323910823.10112.1597257772.658', '1.2.276.0.7230010.3.1.3.2323910823.10252.1597261128.805')
  AND referenced_SeriesInstanceUID IS NOT NULL
  AND referenced_SeriesInstanceUID != ''
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT
    COUNT(DISTINCT collection_id) as collections,
    COUNT(DISTINCT analysis_result_id) as analysis_results,
    COUNT(DISTINCT PatientID) as patients,
    COUNT(DISTINCT StudyInstanceUID) as studies,
    COUNT(DISTINCT SeriesInstanceUID) as series,
    SUM(instanceCount) as instances,
    SUM(series_size_MB)/1000000 as size_TB
FROM index
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT DISTINCT table_name, column_label FROM clinical_index
""",
        needs=('clinical_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT collection_id,
       COUNT(DISTINCT PatientID) as patients,
       COUNT(DISTINCT SeriesInstanceUID) as series,
       SUM(series_size_MB) as size_mb
FROM index
GROUP BY collection_id
ORDER BY patients DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT collection_id, cancer_types, tumor_locations, species, subjects, supporting_data
FROM collections_index
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT analysis_result_id, analysis_result_title, subjects, collections, modalities
FROM analysis_results_index
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT DISTINCT Modality, COUNT(*) as series_count
FROM index
GROUP BY Modality
ORDER BY series_count DESC
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT
  collection_id,
  PatientID,
  SeriesInstanceUID,
  Modality,
  SeriesDescription,
  license_short_name
FROM index
WHERE Modality = 'MR'
  AND BodyPartExamined = 'BREAST'
LIMIT 20
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT i.collection_id, i.PatientID, i.SeriesInstanceUID, i.Modality
FROM index i
JOIN collections_index c ON i.collection_id = c.collection_id
WHERE c.cancer_types LIKE '%Breast%'
  AND i.Modality = 'MR'
LIMIT 20
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT SeriesInstanceUID
FROM index
WHERE Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
  AND collection_id = 'nlst'
LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT SeriesInstanceUID, StudyInstanceUID
FROM index
WHERE collection_id = 'rider_pilot' AND Modality = 'CT'
LIMIT 1
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT DISTINCT
  collection_id,
  license_short_name,
  COUNT(DISTINCT SeriesInstanceUID) as series_count
FROM index
GROUP BY collection_id, license_short_name
ORDER BY collection_id
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT SeriesInstanceUID FROM index
WHERE collection_id = 'tcga_luad' LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:SKILL.md",
        sql="""
SELECT i.SeriesInstanceUID, i.Modality, c.SliceThickness, c.KVP, c.PixelSpacing_row_mm
FROM index i
JOIN ct_index c USING (SeriesInstanceUID)
WHERE i.collection_id = 'your_collection'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/cli_guide.md",
        sql="""
SELECT series_aws_url
FROM index
WHERE collection_id = 'rider_pilot' AND Modality = 'CT'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/cli_guide.md",
        sql="""
SELECT SeriesInstanceUID
FROM index
WHERE collection_id = 'nlst'
  AND Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
LIMIT 50
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/clinical_data_guide.md",
        sql="""
SELECT
  index.PatientID,
  index.StudyInstanceUID,
  index.Modality,
  nlst_canc.clinical_stag
FROM index
JOIN nlst_canc ON index.PatientID = nlst_canc.dicom_patient_id
WHERE index.collection_id = 'nlst' AND index.Modality = 'CT'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/cloud_storage_guide.md",
        sql="""
SELECT SeriesInstanceUID, series_aws_url
FROM index
WHERE collection_id = 'rider_pilot' AND Modality = 'CT'
LIMIT 3
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/cloud_storage_guide.md",
        sql="""
SELECT series_aws_url
FROM index
WHERE collection_id = 'rider_pilot' AND Modality = 'CT'
LIMIT 1
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/cloud_storage_guide.md",
        sql="""
SELECT crdc_series_uuid
FROM index
WHERE collection_id = 'tcga_luad'
  AND Modality = 'CT'
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/dicomweb_guide.md",
        sql="""
SELECT series_aws_url, COUNT(*) as series_count
FROM index
WHERE collection_id = 'your_collection_id'
GROUP BY series_aws_url
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/dicomweb_guide.md",
        sql="""
SELECT StudyInstanceUID, SeriesInstanceUID, PatientID, Modality
FROM index
WHERE collection_id = 'tcga_luad' AND Modality = 'CT'
LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/dicomweb_guide.md",
        sql="""
SELECT StudyInstanceUID, SeriesInstanceUID, Modality, SeriesDescription
FROM index
WHERE collection_id = 'nlst' AND Modality = 'CT'
LIMIT 1
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT i.collection_id, COUNT(*) as slides,
       MIN(s.min_PixelSpacing_2sf) as min_resolution
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
GROUP BY i.collection_id
ORDER BY slides DESC
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.collection_id,
    i.PatientID,
    s.ObjectiveLensPower,
    s.min_PixelSpacing_2sf
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE s.ObjectiveLensPower >= 40
ORDER BY s.min_PixelSpacing_2sf
LIMIT 20
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.PatientID,
    s.staining_usingSubstance_CodeMeaning as staining,
    s.embeddingMedium_CodeMeaning as embedding,
    s.tissueFixative_CodeMeaning as fixative
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
  AND array_to_string(s.staining_usingSubstance_CodeMeaning, ', ') LIKE '%hematoxylin%'
LIMIT 10
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.collection_id,
    s.embeddingMedium_CodeMeaning as embedding,
    COUNT(*) as slide_count
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
GROUP BY i.collection_id, embedding
ORDER BY i.collection_id, slide_count DESC
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    s.primaryAnatomicStructureModifier_CodeMeaning as tissue_type,
    COUNT(*) as slide_count
FROM sm_index s
WHERE s.primaryAnatomicStructureModifier_CodeMeaning IS NOT NULL
GROUP BY tissue_type
ORDER BY slide_count DESC
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    s.primaryAnatomicStructureModifier_CodeMeaning as tissue_type,
    COUNT(*) as slide_count,
    COUNT(DISTINCT i.PatientID) as patient_count
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
GROUP BY tissue_type
ORDER BY slide_count DESC
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    SUBSTRING(SPLIT_PART(s.ContainerIdentifier, '-', 4), 1, 2) as sample_type_code,
    s.primaryAnatomicStructureModifier_CodeMeaning as tissue_type,
    COUNT(*) as slide_count
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
GROUP BY sample_type_code, tissue_type
ORDER BY sample_type_code
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    a.SeriesInstanceUID as ann_series,
    a.AnnotationCoordinateType,
    a.referenced_SeriesInstanceUID as source_series
FROM ann_index a
LIMIT 10
""",
        needs=('ann_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    GraphicType,
    SUM(NumberOfAnnotations) as total_annotations,
    COUNT(*) as group_count
FROM ann_group_index
GROUP BY GraphicType
ORDER BY total_annotations DESC
""",
        ordered=True,
        needs=('ann_group_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.collection_id,
    g.GraphicType,
    g.AnnotationPropertyType_CodeMeaning,
    g.AlgorithmName,
    g.NumberOfAnnotations
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.referenced_SeriesInstanceUID = i.SeriesInstanceUID
WHERE g.AlgorithmName IS NOT NULL
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    seg.SeriesInstanceUID as seg_series,
    seg.AlgorithmName,
    seg.total_segments,
    src.collection_id,
    src.Modality as source_modality
FROM seg_index seg
JOIN index src ON seg.segmented_SeriesInstanceUID = src.SeriesInstanceUID
WHERE src.Modality = 'SM'
LIMIT 20
""",
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    ar.analysis_result_id,
    ar.analysis_result_title,
    ar.modalities,
    ar.subjects,
    ar.collections
FROM analysis_results_index ar
WHERE ar.modalities LIKE '%ANN%' OR ar.modalities LIKE '%SEG%'
ORDER BY ar.subjects DESC
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.analysis_result_id,
    i.PatientID,
    a.referenced_SeriesInstanceUID as source_slide,
    g.AnnotationGroupLabel,
    g.NumberOfAnnotations,
    g.AlgorithmName
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    g.SeriesInstanceUID,
    g.AnnotationGroupLabel,
    g.GraphicType,
    g.NumberOfAnnotations,
    g.AlgorithmName
FROM ann_group_index g
WHERE LOWER(g.AnnotationGroupLabel) LIKE '%blast%'
ORDER BY g.NumberOfAnnotations DESC
""",
        ordered=True,
        needs=('ann_group_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.collection_id,
    g.AnnotationGroupLabel,
    g.GraphicType,
    g.NumberOfAnnotations,
    g.AnnotationPropertyType_CodeMeaning
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'your_collection_id'
  AND LOWER(g.AnnotationGroupLabel) LIKE '%keyword%'
ORDER BY g.NumberOfAnnotations DESC
""",
        ordered=True,
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.collection_id,
    s.ObjectiveLensPower,
    g.AnnotationGroupLabel,
    g.NumberOfAnnotations,
    g.GraphicType
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN sm_index s ON a.referenced_SeriesInstanceUID = s.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'your_collection_id'
ORDER BY g.NumberOfAnnotations DESC
""",
        ordered=True,
        needs=('sm_index', 'ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT i.collection_id, i.PatientID, s.ObjectiveLensPower, s.min_PixelSpacing_2sf
FROM index i
JOIN sm_index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
LIMIT 10
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/digital_pathology_guide.md",
        sql="""
SELECT
    i.collection_id,
    g.AnnotationGroupLabel,
    g.GraphicType,
    g.NumberOfAnnotations,
    a.referenced_SeriesInstanceUID as source_series
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/index_tables_guide.md",
        sql="""
SELECT * FROM index WHERE Modality = 'CT' LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/index_tables_guide.md",
        sql="""
SELECT collection_id, cancer_types, tumor_locations FROM collections_index
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/index_tables_guide.md",
        sql="""
SELECT * FROM analysis_results_index LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/mcp_guide.md",
        sql="""
SELECT COUNT(*) AS series, SUM(series_size_MB)/1000 AS size_GB
FROM index
WHERE SeriesInstanceUID IN ('1.3.6.1.4.1.5962.99.1.1038785163.1205633671.1637421357707.2.0','1.3.6.1.4.1.5962.99.1.1038911754.1238045814.1637421484298.2.0')
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT DISTINCT Modality FROM index
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT DISTINCT BodyPartExamined, COUNT(*) as n
FROM index WHERE Modality = 'CT' AND BodyPartExamined IS NOT NULL
GROUP BY BodyPartExamined ORDER BY n DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT DISTINCT Manufacturer, COUNT(*) as n
FROM index WHERE Modality = 'MR'
GROUP BY Manufacturer ORDER BY n DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT collection_id, Modality, COUNT(*) as series_count
FROM index
WHERE Modality IN ('SEG', 'RTSTRUCT')
GROUP BY collection_id, Modality
ORDER BY series_count DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT SeriesInstanceUID, SeriesDescription, analysis_result_id
FROM index
WHERE collection_id = 'tcga_luad' AND Modality = 'SEG'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT analysis_result_id, analysis_result_title, collections, modalities
FROM analysis_results_index
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT analysis_result_id, analysis_result_title
FROM analysis_results_index
WHERE Collections LIKE '%tcga_luad%'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT AlgorithmName, AlgorithmType, COUNT(*) as seg_count
FROM seg_index
WHERE AlgorithmName IS NOT NULL
GROUP BY AlgorithmName, AlgorithmType
ORDER BY seg_count DESC
LIMIT 10
""",
        ordered=True,
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT
    s.SeriesInstanceUID as seg_series,
    s.AlgorithmName,
    s.total_segments,
    s.segmented_SeriesInstanceUID as source_series
FROM seg_index s
JOIN index src ON s.segmented_SeriesInstanceUID = src.SeriesInstanceUID
WHERE src.Modality = 'CT' AND src.BodyPartExamined = 'CHEST'
LIMIT 10
""",
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT
    seg_info.collection_id,
    COUNT(DISTINCT s.SeriesInstanceUID) as seg_count,
    SUM(s.total_segments) as total_segments
FROM seg_index s
JOIN index seg_info ON s.SeriesInstanceUID = seg_info.SeriesInstanceUID
WHERE s.AlgorithmName LIKE '%TotalSegmentator%'
GROUP BY seg_info.collection_id
ORDER BY seg_count DESC
""",
        ordered=True,
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT g.AnnotationGroupLabel, g.GraphicType, g.NumberOfAnnotations, i.collection_id
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE g.AlgorithmName IS NOT NULL
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT g.AnnotationGroupLabel, g.GraphicType, g.NumberOfAnnotations
FROM ann_group_index g
JOIN index i ON g.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'your_collection_id'
  AND LOWER(g.AnnotationGroupLabel) LIKE '%keyword%'
""",
        needs=('ann_group_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT SUM(series_size_MB) as total_mb, COUNT(*) as series_count
FROM index
WHERE collection_id = 'nlst' AND Modality = 'CT'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT collection_id, table_name, COUNT(DISTINCT column_label) as columns
FROM clinical_index
GROUP BY collection_id, table_name
ORDER BY collection_id
""",
        ordered=True,
        ordered_by=("collection_id",),
        needs=('clinical_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT collection_id,
       COUNT(DISTINCT SeriesInstanceUID) as new_series,
       ROUND(SUM(series_size_MB)/1000, 2) as size_GB
FROM index
WHERE series_init_idc_version = 24
GROUP BY collection_id
ORDER BY new_series DESC
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT collection_id,
       COUNT(DISTINCT SeriesInstanceUID) as revised_series
FROM index
WHERE series_revised_idc_version = 24
  AND series_init_idc_version < 24
GROUP BY collection_id
ORDER BY revised_series DESC
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
WITH first_versions AS (
    SELECT collection_id, MIN(series_init_idc_version) as first_version
    FROM index
    GROUP BY collection_id
)
SELECT f.collection_id, f.first_version, v.version_timestamp as first_release_date
FROM first_versions f
JOIN version_metadata_index v ON f.first_version = v.idc_version
ORDER BY f.first_version DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID, i.BodyPartExamined,
       v.obliquity_degrees
FROM index i
JOIN volume_geometry_index v ON i.SeriesInstanceUID = v.SeriesInstanceUID
WHERE i.Modality = 'CT'
  AND v.regularly_spaced_3d_volume = TRUE
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id,
       COUNT(*) as total_ct,
       SUM(CASE WHEN v.regularly_spaced_3d_volume THEN 1 ELSE 0 END) as valid_3d,
       ROUND(100.0 * SUM(CASE WHEN v.regularly_spaced_3d_volume THEN 1 ELSE 0 END) / COUNT(*), 1) as pct_valid
FROM index i
JOIN volume_geometry_index v ON i.SeriesInstanceUID = v.SeriesInstanceUID
WHERE i.Modality = 'CT'
GROUP BY i.collection_id
ORDER BY total_ct DESC
LIMIT 10
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID,
       r.total_rois, r.ROINames, r.RTROIInterpretedTypes,
       r.referenced_SeriesInstanceUID
FROM index i
JOIN rtstruct_index r ON i.SeriesInstanceUID = r.SeriesInstanceUID
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id,
       COUNT(*) as rtstruct_series,
       ROUND(AVG(r.total_rois), 1) as avg_rois
FROM index i
JOIN rtstruct_index r ON i.SeriesInstanceUID = r.SeriesInstanceUID
GROUP BY i.collection_id
ORDER BY rtstruct_series DESC
LIMIT 10
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT r.SeriesInstanceUID as rtstruct_uid,
       r.total_rois, r.ROINames,
       src.SeriesInstanceUID as source_ct_uid,
       src.collection_id, src.BodyPartExamined
FROM rtstruct_index r
JOIN index src ON r.referenced_SeriesInstanceUID = src.SeriesInstanceUID
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID, i.BodyPartExamined,
       c.SliceThickness, c.ConvolutionKernel, c.KVP
FROM index i
JOIN ct_index c ON i.SeriesInstanceUID = c.SeriesInstanceUID
WHERE c.SliceThickness <= 2.0
  AND c.ConvolutionKernel IS NOT NULL
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, c.SeriesInstanceUID,
       c.XRayTubeCurrent_min, c.XRayTubeCurrent_max, c.SliceThickness
FROM ct_index c
JOIN index i ON c.SeriesInstanceUID = i.SeriesInstanceUID
WHERE c.XRayTubeCurrent_min != c.XRayTubeCurrent_max
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID, i.SeriesDescription,
       m.MagneticFieldStrength, m.DiffusionBValue
FROM index i
JOIN mr_index m ON i.SeriesInstanceUID = m.SeriesInstanceUID
WHERE m.DiffusionBValue IS NOT NULL
  AND m.MagneticFieldStrength >= 2.9
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID,
       m.EchoTime, m.EchoTrainLength, m.ScanningSequence
FROM index i
JOIN mr_index m ON i.SeriesInstanceUID = m.SeriesInstanceUID
WHERE m.EchoTrainLength > 1
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID,
       p.RadionuclideCodeMeaning, p.ReconstructionMethod,
       p.Units, p.DecayCorrection
FROM index i
JOIN pt_index p ON i.SeriesInstanceUID = p.SeriesInstanceUID
WHERE p.RadionuclideCodeMeaning LIKE '%fluorodeoxyglucose%'
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/sql_patterns.md",
        sql="""
SELECT i.collection_id, i.SeriesInstanceUID,
       p.NumberOfTimeSlices, p.ActualFrameDuration
FROM index i
JOIN pt_index p ON i.SeriesInstanceUID = p.SeriesInstanceUID
WHERE p.NumberOfTimeSlices > 1
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/use_cases.md",
        sql="""
SELECT
  PatientID,
  SeriesInstanceUID,
  SeriesDescription
FROM index
WHERE collection_id = 'nlst'
  AND Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
  AND license_short_name = 'CC BY 4.0'
ORDER BY PatientID
LIMIT 100
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/use_cases.md",
        sql="""
SELECT
  Manufacturer,
  ManufacturerModelName,
  COUNT(DISTINCT SeriesInstanceUID) as num_series,
  COUNT(DISTINCT PatientID) as num_patients
FROM index
WHERE Modality = 'MR'
  AND BodyPartExamined LIKE '%BRAIN%'
GROUP BY Manufacturer, ManufacturerModelName
HAVING num_series >= 10
ORDER BY num_series DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/use_cases.md",
        sql="""
SELECT SeriesInstanceUID
FROM index
WHERE Manufacturer = 'SIEMENS'
  AND ManufacturerModelName = 'TrioTim'
  AND Modality = 'MR'
  AND BodyPartExamined LIKE '%BRAIN%'
LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/use_cases.md",
        sql="""
SELECT SeriesInstanceUID, PatientID, SeriesDescription
FROM index
WHERE collection_id = 'acrin_nsclc_fdg_pet' AND Modality = 'PT'
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/use_cases.md",
        sql="""
SELECT
  SeriesInstanceUID,
  collection_id,
  PatientID,
  Modality
FROM index
WHERE license_short_name LIKE 'CC BY%'
  AND license_short_name NOT LIKE '%NC%'
  AND Modality IN ('CT', 'MR')
  AND BodyPartExamined IN ('CHEST', 'BRAIN', 'ABDOMEN')
LIMIT 200
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:references/use_cases.md",
        sql="""
SELECT
  SeriesInstanceUID,
  PatientID,
  collection_id,
  ManufacturerModelName
FROM index
WHERE Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
  AND Manufacturer = 'GE MEDICAL SYSTEMS'
  AND license_short_name = 'CC BY 4.0'
LIMIT 100
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT idc_version, version_timestamp FROM version_metadata_index ORDER BY idc_version
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT SeriesInstanceUID, series_init_idc_version, series_revised_idc_version
FROM index
WHERE series_init_idc_version IS NOT NULL
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.SeriesInstanceUID, i.series_init_idc_version, v.version_timestamp
FROM index i
JOIN version_metadata_index v ON i.series_init_idc_version = v.idc_version
LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT
  collection_id,
  COUNT(DISTINCT PatientID) as patients,
  COUNT(DISTINCT SeriesInstanceUID) as series,
  SUM(series_size_MB) as size_mb
FROM index
GROUP BY collection_id
ORDER BY patients DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT DISTINCT BodyPartExamined, COUNT(*) as series_count
FROM index
WHERE Modality = 'MR' AND BodyPartExamined IS NOT NULL
GROUP BY BodyPartExamined
ORDER BY series_count DESC
LIMIT 20
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT
  collection_id, PatientID, SeriesInstanceUID,
  Modality, SeriesDescription, license_short_name
FROM index
WHERE Modality = 'MR' AND BodyPartExamined = 'BREAST'
LIMIT 20
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, i.PatientID, i.SeriesInstanceUID, i.Modality
FROM index i
JOIN collections_index c ON i.collection_id = c.collection_id
WHERE c.cancer_types LIKE '%Breast%' AND i.Modality = 'MR'
LIMIT 20
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT SeriesInstanceUID FROM index WHERE collection_id = 'tcga_luad' LIMIT 5
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT SeriesInstanceUID, PatientID, collection_id, ManufacturerModelName
FROM index
WHERE Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
  AND Manufacturer = 'GE MEDICAL SYSTEMS'
  AND license_short_name = 'CC BY 4.0'
LIMIT 100
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT analysis_result_id, analysis_result_title
FROM analysis_results_index
WHERE collections LIKE '%tcga_luad%'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id,
       COUNT(*) as total_ct,
       SUM(CASE WHEN v.regularly_spaced_3d_volume THEN 1 ELSE 0 END) as valid_3d,
       ROUND(100.0 * SUM(CASE WHEN v.regularly_spaced_3d_volume THEN 1 ELSE 0 END)
             / COUNT(*), 1) as pct_valid
FROM index i
JOIN volume_geometry_index v ON i.SeriesInstanceUID = v.SeriesInstanceUID
WHERE i.Modality = 'CT'
GROUP BY i.collection_id
ORDER BY total_ct DESC
LIMIT 10
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, COUNT(*) as sm_series
FROM index i
JOIN sm_index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
GROUP BY i.collection_id
ORDER BY sm_series DESC
LIMIT 10
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.SeriesInstanceUID, i.Modality, i.collection_id
FROM index i
JOIN contrast_index c ON i.SeriesInstanceUID = c.SeriesInstanceUID
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT index.PatientID, index.StudyInstanceUID, index.Modality
FROM index
JOIN nlst_canc ON index.PatientID = nlst_canc.dicom_patient_id
WHERE index.collection_id = 'nlst' AND index.Modality = 'CT'
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT PatientID, SeriesInstanceUID, SeriesDescription
FROM index
WHERE collection_id = 'nlst'
  AND Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
  AND license_short_name = 'CC BY 4.0'
ORDER BY PatientID
LIMIT 100
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT Manufacturer, ManufacturerModelName,
       COUNT(DISTINCT SeriesInstanceUID) as num_series,
       COUNT(DISTINCT PatientID) as num_patients
FROM index
WHERE Modality = 'MR' AND BodyPartExamined LIKE '%BRAIN%'
GROUP BY Manufacturer, ManufacturerModelName
HAVING num_series >= 10
ORDER BY num_series DESC
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT SeriesInstanceUID, collection_id, PatientID, Modality
FROM index
WHERE license_short_name LIKE 'CC BY%'
  AND license_short_name NOT LIKE '%NC%'
  AND Modality IN ('CT', 'MR')
  AND BodyPartExamined IN ('CHEST', 'BRAIN', 'ABDOMEN')
LIMIT 200
""",
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, i.PatientID, s.ObjectiveLensPower,
       s.min_PixelSpacing_2sf
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE s.ObjectiveLensPower >= 40
ORDER BY s.min_PixelSpacing_2sf
LIMIT 20
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.PatientID,
       s.staining_usingSubstance_CodeMeaning as staining,
       s.embeddingMedium_CodeMeaning as embedding,
       s.tissueFixative_CodeMeaning as fixative
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
  AND array_to_string(s.staining_usingSubstance_CodeMeaning, ', ')
      LIKE '%hematoxylin%'
LIMIT 10
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, s.embeddingMedium_CodeMeaning as embedding,
       COUNT(*) as slide_count
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
GROUP BY i.collection_id, embedding
ORDER BY i.collection_id, slide_count DESC
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT s.primaryAnatomicStructureModifier_CodeMeaning as tissue_type,
       COUNT(*) as slide_count
FROM sm_index s
WHERE s.primaryAnatomicStructureModifier_CodeMeaning IS NOT NULL
GROUP BY tissue_type
ORDER BY slide_count DESC
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT s.primaryAnatomicStructureModifier_CodeMeaning as tissue_type,
       COUNT(*) as slide_count,
       COUNT(DISTINCT i.PatientID) as patient_count
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
GROUP BY tissue_type
ORDER BY slide_count DESC
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT SUBSTRING(SPLIT_PART(s.ContainerIdentifier, '-', 4), 1, 2)
           as sample_type_code,
       s.primaryAnatomicStructureModifier_CodeMeaning as tissue_type,
       COUNT(*) as slide_count
FROM sm_index s
JOIN index i ON s.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
GROUP BY sample_type_code, tissue_type
ORDER BY sample_type_code
""",
        ordered=True,
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT a.SeriesInstanceUID as ann_series, a.AnnotationCoordinateType,
       a.referenced_SeriesInstanceUID as source_series
FROM ann_index a
LIMIT 10
""",
        needs=('ann_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT GraphicType, SUM(NumberOfAnnotations) as total_annotations,
       COUNT(*) as group_count
FROM ann_group_index
GROUP BY GraphicType
ORDER BY total_annotations DESC
""",
        ordered=True,
        needs=('ann_group_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, g.GraphicType,
       g.AnnotationPropertyType_CodeMeaning, g.AlgorithmName,
       g.NumberOfAnnotations
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.referenced_SeriesInstanceUID = i.SeriesInstanceUID
WHERE g.AlgorithmName IS NOT NULL
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT seg.SeriesInstanceUID as seg_series, seg.AlgorithmName,
       seg.total_segments, src.collection_id,
       src.Modality as source_modality
FROM seg_index seg
JOIN index src ON seg.segmented_SeriesInstanceUID = src.SeriesInstanceUID
WHERE src.Modality = 'SM'
LIMIT 20
""",
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT ar.analysis_result_id, ar.analysis_result_title, ar.modalities,
       ar.subjects, ar.collections
FROM analysis_results_index ar
WHERE ar.modalities LIKE '%ANN%' OR ar.modalities LIKE '%SEG%'
ORDER BY ar.subjects DESC
""",
        ordered=True,
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.analysis_result_id, i.PatientID,
       a.referenced_SeriesInstanceUID as source_slide,
       g.AnnotationGroupLabel, g.NumberOfAnnotations, g.AlgorithmName
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT g.SeriesInstanceUID, g.AnnotationGroupLabel, g.GraphicType,
       g.NumberOfAnnotations, g.AlgorithmName
FROM ann_group_index g
WHERE LOWER(g.AnnotationGroupLabel) LIKE '%blast%'
ORDER BY g.NumberOfAnnotations DESC
""",
        ordered=True,
        needs=('ann_group_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, g.AnnotationGroupLabel, g.GraphicType,
       g.NumberOfAnnotations, g.AnnotationPropertyType_CodeMeaning
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
  AND LOWER(g.AnnotationGroupLabel) LIKE '%nucle%'
ORDER BY g.NumberOfAnnotations DESC
""",
        ordered=True,
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, s.ObjectiveLensPower, g.AnnotationGroupLabel,
       g.NumberOfAnnotations, g.GraphicType
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN sm_index s ON a.referenced_SeriesInstanceUID = s.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
WHERE i.collection_id = 'tcga_brca'
ORDER BY g.NumberOfAnnotations DESC
LIMIT 10
""",
        ordered=True,
        needs=('sm_index', 'ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, i.PatientID, s.ObjectiveLensPower,
       s.min_PixelSpacing_2sf
FROM index i
JOIN sm_index s ON i.SeriesInstanceUID = s.SeriesInstanceUID
LIMIT 10
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/imaging-data-commons-skill:tests/test_snippets.py",
        sql="""
SELECT i.collection_id, g.AnnotationGroupLabel, g.GraphicType,
       g.NumberOfAnnotations,
       a.referenced_SeriesInstanceUID as source_series
FROM ann_group_index g
JOIN ann_index a ON g.SeriesInstanceUID = a.SeriesInstanceUID
JOIN index i ON a.SeriesInstanceUID = i.SeriesInstanceUID
LIMIT 10
""",
        needs=('ann_index', 'ann_group_index'),
    ),
    Query(
        source="ImagingDataCommons/idc-index:README.md",
        sql="""
SELECT
    collection_id,
    PatientID,
    SeriesInstanceUID,
    SeriesDescription,
    series_size_MB
FROM index
WHERE Modality = 'CT'
  AND BodyPartExamined = 'CHEST'
LIMIT 10
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT DISTINCT(collection_id) FROM index
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM index
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM prior_versions_index
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM collections_index
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM analysis_results_index
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM version_metadata_index
""",
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM clinical_index
""",
        needs=('clinical_index',),
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM sm_index
""",
        needs=('sm_index',),
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM sm_instance_index
""",
        needs=('sm_instance_index',),
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM seg_index
""",
        needs=('seg_index',),
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM ann_index
""",
        needs=('ann_index',),
    ),
    Query(
        source="ImagingDataCommons/idc-index:tests/idcindex.py",
        sql="""
SELECT COUNT(*) FROM ann_group_index
""",
        needs=('ann_group_index',),
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT 1 FROM version_metadata_index LIMIT 1
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT 1 FROM index LIMIT 1
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT 1 FROM seg_index LIMIT 1
""",
        needs=('seg_index',),
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT 1 FROM rtstruct_index LIMIT 1
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT * FROM collections_index
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT 1 FROM collections_index LIMIT 1
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT collection_id FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT analysis_result_id FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT BodyPartExamined FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT BodyPartExamined, COUNT(DISTINCT SeriesInstanceUID) as count FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad' GROUP BY BodyPartExamined
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT Modality FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT Modality, COUNT(DISTINCT SeriesInstanceUID) as count FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad' GROUP BY Modality
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT collection_id, PatientID, PatientSex, PatientAge FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT PatientID FROM index WHERE collection_id ILIKE 'tcga_luad' AND Modality ILIKE 'SM'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT collection_id, PatientID, StudyInstanceUID, StudyDate, StudyDescription FROM index WHERE collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT * FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad' AND Modality ILIKE 'SM'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT * FROM index WHERE SeriesInstanceUID IN ('1.3.6.1.4.1.5962.99.1.1038785163.1205633671.1637421357707.2.0','1.3.6.1.4.1.5962.99.1.1038911754.1238045814.1637421484298.2.0')
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT Manufacturer, ManufacturerModelName FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad'
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT Manufacturer, COUNT(DISTINCT SeriesInstanceUID) as count FROM index WHERE 1=1 AND collection_id ILIKE 'tcga_luad' GROUP BY Manufacturer
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT * FROM version_metadata_index
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT collection_id, PatientID, PatientSex, PatientAge
FROM index
WHERE collection_id ILIKE 'tcga_luad'
AND series_init_idc_version IN (
    SELECT idc_version FROM version_metadata_index WHERE version_timestamp >= '2026-04-16'
)
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT DISTINCT collection_id, PatientID, StudyInstanceUID, StudyDate, StudyDescription
FROM index
WHERE collection_id ILIKE 'tcga_luad'
AND PatientID ILIKE 'TCGA-50-5068'
AND series_init_idc_version IN (
    SELECT idc_version FROM version_metadata_index WHERE version_timestamp >= '2026-04-16'
)
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT * FROM index
WHERE series_init_idc_version IN (
    SELECT idc_version FROM version_metadata_index WHERE version_timestamp >= '2026-04-16'
)
OR series_revised_idc_version IN (
    SELECT idc_version FROM version_metadata_index WHERE version_timestamp >= '2026-04-16'
)
""",
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT segmented_SeriesInstanceUID FROM seg_index WHERE SeriesInstanceUID = '1.2.276.0.7230010.3.1.3.2323910823.10112.1597257772.658'
""",
        needs=('seg_index',),
    ),
    Query(
        source="kirbyju/tcia_utils:src/tcia_utils/idc.py",
        sql="""
SELECT referenced_SeriesInstanceUID FROM rtstruct_index WHERE SeriesInstanceUID = '1.2.276.0.7230010.3.1.3.2323910823.10112.1597257772.658'
""",
    ),
)

__all__ = ["QUERIES", "Query"]
