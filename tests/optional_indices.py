"""Optional indices made from the real v25 main index, for tests that need them offline.

The optional indices of a release (``sm_index``, ``sm_instance_index``, ``seg_index``,
``ann_index``, ``ann_group_index``, ``clinical_index``, and those of the CT, MR, PT, RTSTRUCT,
contrast and volume-geometry metadata) are published separately from the data package and
fetched on first use. The files written here have their published columns and types
and refer to real series of the main index: each slide-microscopy (SM) series gets a pyramid
of 3-6 instances, each segmentation (SEG) the first image series of its study, each annotation
(ANN) the first SM series of its study. Values that the main index does not hold (stains,
algorithms, annotation counts, ...) are drawn from the row numbers, so every file is the same
from run to run.

Example:
    >>> paths = write_optional_indices(REAL_INDEX, Path("/tmp/release"))  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['ann_group_index', 'ann_index', 'clinical_index', 'seg_index', 'sm_index', 'sm_instance_index']
"""

from __future__ import annotations

from pathlib import Path

#: Where the clinical tables go, beside the index files (``client.clinical_data_dir``).
CLINICAL_DIR = "clinical"

_IMAGE_MODALITIES = "('CT', 'MR', 'PT', 'SM', 'MG', 'CR', 'DX', 'US', 'NM', 'XA')"

# A deterministic UUID (version 4 layout) from any text.
_UUID = """(substr(md5({x}), 1, 8) || '-' || substr(md5({x}), 9, 4) || '-4' || substr(md5({x}), 14, 3)
            || '-8' || substr(md5({x}), 18, 3) || '-' || substr(md5({x}), 21, 12))"""

_SM_SERIES = """
CREATE TEMP TABLE sm_series AS
SELECT SeriesInstanceUID, collection_id, row_number() OVER (ORDER BY SeriesInstanceUID) AS rn
FROM idx WHERE Modality = 'SM';

CREATE TEMP TABLE sm AS
SELECT
    SeriesInstanceUID,
    printf('%s-%06d', upper(collection_id), rn) AS ContainerIdentifier,
    CASE WHEN rn % 7 = 0 THEN ['Tissue freezing medium'] ELSE ['Paraffin wax'] END AS embeddingMedium_CodeMeaning,
    CASE WHEN rn % 7 = 0 THEN ['SCT:433469005'] ELSE ['SCT:311731000'] END
        AS embeddingMedium_code_designator_value_str,
    CASE WHEN rn % 7 = 0 THEN []::VARCHAR[] ELSE ['Neutral Buffered Formalin'] END AS tissueFixative_CodeMeaning,
    CASE WHEN rn % 7 = 0 THEN []::VARCHAR[] ELSE ['SCT:431510009'] END AS tissueFixative_code_designator_value_str,
    CASE WHEN rn % 11 = 0 THEN ['hematoxylin stain'] ELSE ['hematoxylin stain', 'water soluble eosin stain'] END
        AS staining_usingSubstance_CodeMeaning,
    CASE WHEN rn % 11 = 0 THEN ['SCT:12710003'] ELSE ['SCT:12710003', 'SCT:36879007'] END
        AS staining_usingSubstance_code_designator_value_str,
    CASE rn % 3 WHEN 0 THEN 0.00025 WHEN 1 THEN 0.00049 ELSE 0.001 END::DOUBLE AS min_PixelSpacing_2sf,
    (20000 + (rn * 7919) % 120000)::BIGINT AS max_TotalPixelMatrixColumns,
    (15000 + (rn * 104729) % 90000)::BIGINT AS max_TotalPixelMatrixRows,
    CASE WHEN rn % 3 = 0 THEN 20 ELSE 40 END::BIGINT AS ObjectiveLensPower,
    CASE
        WHEN collection_id IN ('cptac_luad', 'cptac_lscc', 'tcga_luad', 'tcga_lusc', 'nlst', 'cmb_lca') THEN 'SCT:39607008'
        WHEN collection_id IN ('cptac_pda', 'tcga_paad') THEN 'SCT:15776009'
        WHEN collection_id LIKE '%brca%' THEN 'SCT:76752008'
        WHEN collection_id IN ('tcga_coad', 'tcga_read', 'cptac_coad', 'cmb_crc') THEN 'SCT:71854001'
        WHEN collection_id IN ('tcga_kirc', 'tcga_kirp', 'tcga_kich', 'cptac_ccrcc') THEN 'SCT:64033007'
        WHEN collection_id IN ('tcga_gbm', 'tcga_lgg', 'cptac_gbm') THEN 'SCT:12738006'
    END AS primaryAnatomicStructure_code_designator_value_str,
    CASE
        WHEN collection_id IN ('cptac_luad', 'cptac_lscc', 'tcga_luad', 'tcga_lusc', 'nlst', 'cmb_lca') THEN 'Lung'
        WHEN collection_id IN ('cptac_pda', 'tcga_paad') THEN 'Pancreas'
        WHEN collection_id LIKE '%brca%' THEN 'Breast'
        WHEN collection_id IN ('tcga_coad', 'tcga_read', 'cptac_coad', 'cmb_crc') THEN 'Colon'
        WHEN collection_id IN ('tcga_kirc', 'tcga_kirp', 'tcga_kich', 'cptac_ccrcc') THEN 'Kidney'
        WHEN collection_id IN ('tcga_gbm', 'tcga_lgg', 'cptac_gbm') THEN 'Brain'
    END AS primaryAnatomicStructure_CodeMeaning,
    CASE WHEN collection_id LIKE 'cptac%' THEN CASE WHEN rn % 3 = 0 THEN 'SCT:17621005' ELSE 'SCT:86049000' END
    END AS primaryAnatomicStructureModifier_code_designator_value_str,
    CASE WHEN collection_id LIKE 'cptac%' THEN CASE WHEN rn % 3 = 0 THEN 'Normal' ELSE 'Neoplasm, Primary' END
    END AS primaryAnatomicStructureModifier_CodeMeaning,
    CASE WHEN rn % 11 = 0 THEN 'DCM:111743' ELSE 'DCM:111744' END AS illuminationType_code_designator_value_str,
    CASE WHEN rn % 11 = 0 THEN 'Epifluorescence illumination' ELSE 'Brightfield illumination' END
        AS illuminationType_CodeMeaning,
    CASE WHEN collection_id = 'tcga_luad' THEN 'SCT:254626006' END AS admittingDiagnosis_code_designator_value_str,
    CASE WHEN collection_id = 'tcga_luad' THEN 'Adenocarcinoma of lung' END AS admittingDiagnosis_CodeMeaning,
    rn
FROM sm_series;
"""

_SM_INDEX = "SELECT * EXCLUDE (rn) FROM sm ORDER BY SeriesInstanceUID"

_SM_INSTANCE_INDEX = f"""
WITH levels AS (
    SELECT *, unnest(range(0, 3 + rn % 4)) AS level FROM sm
), named AS (
    SELECT *, '1.2.826.0.1.3680043.8.498.' || CAST(1000000000 + rn * 10 + level AS VARCHAR) AS sop FROM levels
)
SELECT
    sop AS SOPInstanceUID,
    SeriesInstanceUID,
    embeddingMedium_CodeMeaning,
    embeddingMedium_code_designator_value_str,
    tissueFixative_CodeMeaning,
    tissueFixative_code_designator_value_str,
    staining_usingSubstance_CodeMeaning,
    staining_usingSubstance_code_designator_value_str,
    min_PixelSpacing_2sf * pow(2, level) AS PixelSpacing_0,
    CASE WHEN level = 0 THEN ['ORIGINAL', 'PRIMARY', 'VOLUME', 'NONE']
         ELSE ['DERIVED', 'PRIMARY', 'VOLUME', 'RESAMPLED'] END AS ImageType,
    CASE WHEN rn % 2 = 0 THEN '1.2.840.10008.1.2.4.50' ELSE '1.2.840.10008.1.2.4.90' END AS TransferSyntaxUID,
    (max_TotalPixelMatrixColumns * max_TotalPixelMatrixRows // (pow(4, level)::BIGINT * 12) + 4096)::BIGINT
        AS instance_size,
    (max_TotalPixelMatrixColumns // pow(2, level)::BIGINT)::BIGINT AS TotalPixelMatrixColumns,
    (max_TotalPixelMatrixRows // pow(2, level)::BIGINT)::BIGINT AS TotalPixelMatrixRows,
    {_UUID.format(x="sop")} AS crdc_instance_uuid
FROM named
ORDER BY staining_usingSubstance_CodeMeaning[1], TransferSyntaxUID, SeriesInstanceUID, SOPInstanceUID
"""

_SEG_INDEX = f"""
WITH image AS (
    SELECT StudyInstanceUID, min(SeriesInstanceUID) AS first_image
    FROM idx WHERE Modality IN {_IMAGE_MODALITIES} GROUP BY StudyInstanceUID
), seg AS (
    SELECT SeriesInstanceUID, StudyInstanceUID, analysis_result_id,
           row_number() OVER (ORDER BY SeriesInstanceUID) AS rn
    FROM idx WHERE Modality = 'SEG'
)
SELECT
    seg.SeriesInstanceUID,
    CASE WHEN rn % 20 = 0 THEN 'FRACTIONAL' WHEN rn % 9 = 0 THEN 'LABELMAP' ELSE 'BINARY' END AS SegmentationType,
    (1 + (rn * 13) % 24)::BIGINT AS total_segments,
    CASE WHEN analysis_result_id IS NOT NULL THEN 'AUTOMATIC' WHEN rn % 5 = 0 THEN 'SEMIAUTOMATIC' ELSE 'MANUAL' END
        AS AlgorithmType,
    CASE
        WHEN analysis_result_id = 'totalsegmentator_ct_segmentations' THEN 'TotalSegmentator'
        WHEN analysis_result_id = 'bamf_aimi_annotations' THEN 'BAMF-nnU-Net'
        WHEN analysis_result_id = 'nnu_net_bpr_annotations' THEN 'nnU-Net,BPR'
        WHEN analysis_result_id IS NOT NULL THEN upper(analysis_result_id)
    END AS AlgorithmName,
    image.first_image AS segmented_SeriesInstanceUID,
    CASE WHEN rn % 4 = 0 THEN ['Anatomical Structure', 'Morphologically Altered Structure']
         WHEN rn % 4 = 1 THEN ['Morphologically Altered Structure'] ELSE ['Anatomical Structure'] END
        AS SegmentedPropertyCategory_CodeMeanings,
    CASE rn % 5 WHEN 0 THEN ['Kidney', 'Liver', 'Spleen'] WHEN 1 THEN ['Lung'] WHEN 2 THEN ['Neoplasm']
                WHEN 3 THEN ['Aorta', 'Heart'] ELSE ['Prostate'] END AS SegmentedPropertyType_CodeMeanings,
    CASE rn % 3 WHEN 0 THEN ['Thorax'] WHEN 1 THEN ['Abdomen'] ELSE []::VARCHAR[] END AS AnatomicRegion_CodeMeanings
FROM seg LEFT JOIN image ON seg.StudyInstanceUID = image.StudyInstanceUID
ORDER BY SegmentationType DESC, AlgorithmType, AlgorithmName, SeriesInstanceUID
"""

_ANN = """
CREATE TEMP TABLE ann AS
WITH slide AS (
    SELECT StudyInstanceUID, min(SeriesInstanceUID) AS first_slide
    FROM idx WHERE Modality = 'SM' GROUP BY StudyInstanceUID
)
SELECT a.SeriesInstanceUID, a.collection_id, slide.first_slide,
       row_number() OVER (ORDER BY a.SeriesInstanceUID) AS rn
FROM idx a LEFT JOIN slide ON a.StudyInstanceUID = slide.StudyInstanceUID
WHERE a.Modality = 'ANN';
"""

_ANN_INDEX = """
SELECT SeriesInstanceUID,
       CASE WHEN rn % 10 = 0 THEN '3D' ELSE '2D' END AS AnnotationCoordinateType,
       first_slide AS referenced_SeriesInstanceUID
FROM ann ORDER BY SeriesInstanceUID
"""

_ANN_GROUP_INDEX = """
WITH groups AS (SELECT *, unnest(range(1, 2 + rn % 3)) AS g FROM ann)
SELECT
    SeriesInstanceUID,
    g::BIGINT AS AnnotationGroupNumber,
    '2.25.' || CAST(100000000000 + rn * 10 + g AS VARCHAR) AS AnnotationGroupUID,
    CASE g WHEN 1 THEN 'nuclei' WHEN 2 THEN 'tumor region' ELSE 'lymphocytes' END AS AnnotationGroupLabel,
    CASE WHEN collection_id = 'catch' THEN 'MANUAL' ELSE 'AUTOMATIC' END AS AnnotationGroupGenerationType,
    CASE WHEN g = 2 THEN (1 + rn % 40)::BIGINT ELSE (1000 + (rn * 7919) % 500000)::BIGINT END AS NumberOfAnnotations,
    CASE WHEN g = 2 THEN 'POLYGON' WHEN rn % 2 = 0 THEN 'POINT' ELSE 'POLYGON' END AS GraphicType,
    CASE WHEN g = 2 THEN 'SCT:49755003' ELSE 'SCT:91723000' END AS AnnotationPropertyCategory_code,
    CASE WHEN g = 2 THEN 'Morphologically Altered Structure' ELSE 'Anatomical Structure' END
        AS AnnotationPropertyCategory_CodeMeaning,
    CASE g WHEN 1 THEN 'SCT:84640000' WHEN 2 THEN 'SCT:108369006' ELSE 'SCT:56972008' END
        AS AnnotationPropertyType_code,
    CASE g WHEN 1 THEN 'Nucleus' WHEN 2 THEN 'Neoplasm' ELSE 'Lymphocyte' END AS AnnotationPropertyType_CodeMeaning,
    CASE WHEN collection_id = 'catch' THEN NULL ELSE 'HoVer-Net' END AS AlgorithmName
FROM groups ORDER BY SeriesInstanceUID, AnnotationGroupNumber
"""

# Clinical tables: per-patient rows for the real patients of two collections; clinical_index
# lists their columns, with the coded values of each.
_CLINICAL_TABLES = {
    "nlst_prsn": """
        SELECT CAST(PatientID AS BIGINT) AS pid,
               (55 + CAST(PatientID AS BIGINT) % 20)::BIGINT AS age,
               (1 + CAST(PatientID AS BIGINT) % 2)::BIGINT AS gender,
               CASE WHEN CAST(PatientID AS BIGINT) % 13 = 0 THEN NULL
                    ELSE (1 + CAST(PatientID AS BIGINT) % 6)::BIGINT END AS race,
               (CAST(PatientID AS BIGINT) % 2)::BIGINT AS cigsmok
        FROM (SELECT DISTINCT PatientID FROM idx WHERE collection_id = 'nlst') ORDER BY pid""",
    "rms_mutation_prediction_demographics": """
        SELECT PatientID AS participant_id,
               CASE WHEN right(PatientID, 1) IN ('0', '2', '4', '6', '8') THEN 'Male' ELSE 'Female' END AS sex,
               (1 + CAST(right(PatientID, 2) AS BIGINT) % 18)::BIGINT AS age_at_diagnosis,
               CASE WHEN PatientID < 'RMS1500' THEN 'Embryonal' ELSE 'Alveolar' END AS histology
        FROM (SELECT DISTINCT PatientID FROM idx WHERE collection_id = 'rms_mutation_prediction')
        ORDER BY participant_id""",
}

_CLINICAL_INDEX = """
SELECT * FROM (VALUES
    ('nlst', 'bigquery-public-data.idc_v25_clinical.nlst_prsn', 'nlst_prsn', 'pid', 'Participant ID', []),
    ('nlst', 'bigquery-public-data.idc_v25_clinical.nlst_prsn', 'nlst_prsn', 'age', 'Age at randomization', []),
    ('nlst', 'bigquery-public-data.idc_v25_clinical.nlst_prsn', 'nlst_prsn', 'gender', 'Gender',
     [{'option_code': '1', 'option_description': 'Male'}, {'option_code': '2', 'option_description': 'Female'}]),
    ('nlst', 'bigquery-public-data.idc_v25_clinical.nlst_prsn', 'nlst_prsn', 'race', 'Race',
     [{'option_code': '1', 'option_description': 'White'},
      {'option_code': '2', 'option_description': 'Black or African-American'},
      {'option_code': '3', 'option_description': 'Asian'},
      {'option_code': '4', 'option_description': 'American Indian or Alaskan Native'},
      {'option_code': '5', 'option_description': 'Native Hawaiian or Other Pacific Islander'},
      {'option_code': '6', 'option_description': 'More than one race'}]),
    ('nlst', 'bigquery-public-data.idc_v25_clinical.nlst_prsn', 'nlst_prsn', 'cigsmok', 'Smoking status at T0',
     [{'option_code': '0', 'option_description': 'Former'}, {'option_code': '1', 'option_description': 'Current'}]),
    ('rms_mutation_prediction', 'bigquery-public-data.idc_v25_clinical.rms_mutation_prediction_demographics',
     'rms_mutation_prediction_demographics', 'participant_id', 'Participant ID', []),
    ('rms_mutation_prediction', 'bigquery-public-data.idc_v25_clinical.rms_mutation_prediction_demographics',
     'rms_mutation_prediction_demographics', 'sex', 'Sex', []),
    ('rms_mutation_prediction', 'bigquery-public-data.idc_v25_clinical.rms_mutation_prediction_demographics',
     'rms_mutation_prediction_demographics', 'age_at_diagnosis', 'Age at diagnosis (years)', []),
    ('rms_mutation_prediction', 'bigquery-public-data.idc_v25_clinical.rms_mutation_prediction_demographics',
     'rms_mutation_prediction_demographics', 'histology', NULL,
     [{'option_code': 'Alveolar', 'option_description': NULL},
      {'option_code': 'Embryonal', 'option_description': NULL}])
) AS t(collection_id, table_name, short_table_name, "column", column_label, "values")
ORDER BY collection_id, table_name
"""


#: The other optional indices, made from their shipped schema (``<name>_schema.json`` in the data
#: package) over the series of these modalities; a column the main index has is copied from it,
#: ``referenced_SeriesInstanceUID`` is an image series of the same study, and every other value is
#: drawn from the row number by the column's type (a list of one to three values where the
#: schema says REPEATED, NULL in one row of nine otherwise).
_FROM_SCHEMA = {
    "ct_index": "('CT')",
    "mr_index": "('MR')",
    "pt_index": "('PT')",
    "rtstruct_index": "('RTSTRUCT')",
    "contrast_index": "('CT', 'MR')",
    "volume_geometry_index": "('CT', 'MR', 'PT')",
}

_VALUE_BY_TYPE = {
    "STRING": "'{name}_' || (({rn} + {k}) % 4)::VARCHAR",
    "INTEGER": "(({rn} * 13 + {k}) % 512)::BIGINT",
    "FLOAT": "((({rn} * 37 + {k}) % 1000) / 10.0)::DOUBLE",
    "BOOLEAN": "(({rn} + {k}) % 4 <> 0)",
}


def _schema_index_sql(name: str, modalities: str) -> str:
    """The DuckDB query of optional index ``name`` (see :data:`_FROM_SCHEMA`)."""
    import importlib.resources
    import json

    from idc_index.releases.files import DATA_PACKAGE

    schema = json.loads((importlib.resources.files(DATA_PACKAGE) / f"{name}_schema.json").read_text())
    main_columns = {"SeriesInstanceUID", "StudyInstanceUID", "PatientID", "collection_id", "Modality"}
    columns = []
    for k, column in enumerate(schema["columns"]):
        col = column["name"]
        if col in main_columns:
            expr = f"s.{col}"
        elif col == "referenced_SeriesInstanceUID":
            expr = ("(SELECT min(i.SeriesInstanceUID) FROM idx i WHERE i.StudyInstanceUID = s.StudyInstanceUID "
                    "AND i.Modality IN ('CT', 'MR', 'PT'))")
        else:
            values = [_VALUE_BY_TYPE[column["type"]].format(name=col, k=k, rn=f"(rn + {i})") for i in range(3)]
            if column.get("mode") == "REPEATED":
                expr = f"list_slice([{', '.join(values)}], 1, 1 + (rn % 3))"
            else:
                expr = f"CASE WHEN (rn + {k}) % 9 = 0 THEN NULL ELSE {values[0]} END"
        columns.append(f"{expr} AS {col}")
    return f"""
        SELECT {", ".join(columns)}
        FROM (SELECT *, row_number() OVER (ORDER BY SeriesInstanceUID) AS rn FROM idx
              WHERE Modality IN {modalities}) s
        ORDER BY SeriesInstanceUID
    """


def write_optional_indices(main_index: Path, out: Path) -> dict[str, Path]:
    """Write the optional indices (``<name>.parquet``) and the clinical tables
    (``clinical/<table>.parquet``) made from ``main_index`` into ``out``; return the index paths."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    (out / CLINICAL_DIR).mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW idx AS SELECT * FROM read_parquet('{main_index}')")
    con.execute(_SM_SERIES)
    con.execute(_ANN)
    queries = {
        "sm_index": _SM_INDEX,
        "sm_instance_index": _SM_INSTANCE_INDEX,
        "seg_index": _SEG_INDEX,
        "ann_index": _ANN_INDEX,
        "ann_group_index": _ANN_GROUP_INDEX,
        "clinical_index": _CLINICAL_INDEX,
        **{name: _schema_index_sql(name, modalities) for name, modalities in _FROM_SCHEMA.items()},
    }
    paths = {}
    for name, sql in queries.items():
        paths[name] = out / f"{name}.parquet"
        con.execute(f"COPY ({sql}) TO '{paths[name]}' (FORMAT parquet)")
    for table, sql in _CLINICAL_TABLES.items():
        con.execute(f"COPY ({sql}) TO '{out / CLINICAL_DIR / table}.parquet' (FORMAT parquet)")
    con.close()
    return paths


__all__ = ["CLINICAL_DIR", "write_optional_indices"]
