-- @table One row per slide microscopy (SM) series: the slide, the specimen preparation (embedding,
-- fixative, stains as coded terms), the pixel spacing and image size at the highest resolution, the
-- objective lens power, the anatomic structure, illumination and admitting diagnosis. The
-- instances (pyramid levels) of each series are in sm_instance_index.
--
-- The values are those of idc-index-data 25.0.5's sm_index.sql. Where upstream takes ANY_VALUE of
-- something that can differ between the instances of a series, this query takes a value ANY_VALUE
-- could have returned, the same on every run: MIN for a scalar (both skip NULLs), and for a coded
-- term the one with the smallest 'scheme:value:meaning' string, which is upstream's own choice.
WITH sm AS (
  SELECT *
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.77.1.6'
),
preparation AS (
  SELECT DISTINCT
    sm.SeriesInstanceUID,
    CASE CONCAT(step_name.CodingSchemeDesignator, ':', step_name.CodeValue)
      WHEN 'SCT:430863003' THEN 'embedding'
      WHEN 'SCT:430864009' THEN 'fixative'
      WHEN 'SCT:424361007' THEN 'staining'
    END AS kind,
    term.CodeMeaning AS meaning,
    CONCAT(term.CodingSchemeDesignator, ':', term.CodeValue) AS code
  FROM sm
  CROSS JOIN UNNEST(sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].SpecimenPreparationSequence) AS step
  CROSS JOIN UNNEST(step.SpecimenPreparationStepContentItemSequence) AS item
  CROSS JOIN UNNEST(item.ConceptNameCodeSequence) AS step_name
  CROSS JOIN UNNEST(item.ConceptCodeSequence) AS term
),
coded AS (
  -- Meanings and codes of a step in one order, so that they pair up: upstream's, which sorts the
  -- strings 'meaning:scheme:value' (so 'CD31' comes before 'CD3'); meaning breaks the tie of two
  -- terms with the same string. Upstream splits each string at its first ':' into meaning and code,
  -- which cuts a meaning that contains ':'; here meaning and code are kept whole. A term without
  -- meaning, scheme or value is left out (upstream's array would hold a NULL, which BigQuery cannot
  -- return).
  SELECT
    SeriesInstanceUID,
    ARRAY_AGG(IF(kind = 'embedding', meaning, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS embedding_meanings,
    ARRAY_AGG(IF(kind = 'embedding', code, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS embedding_codes,
    ARRAY_AGG(IF(kind = 'fixative', meaning, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS fixative_meanings,
    ARRAY_AGG(IF(kind = 'fixative', code, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS fixative_codes,
    ARRAY_AGG(IF(kind = 'staining', meaning, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS staining_meanings,
    ARRAY_AGG(IF(kind = 'staining', code, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS staining_codes
  FROM preparation
  WHERE kind IS NOT NULL AND meaning IS NOT NULL AND code IS NOT NULL
  GROUP BY SeriesInstanceUID
),
terms AS (
  -- the coded terms of each instance that sm_index summarises per series, each with the string
  -- upstream compares, 'scheme:value:meaning' (NULL when a part is missing: such a term is not chosen)
  SELECT
    SeriesInstanceUID,
    SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)] AS structure,
    SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureModifierSequence[SAFE_OFFSET(0)] AS modifier,
    OpticalPathSequence[SAFE_OFFSET(0)].IlluminationTypeCodeSequence[SAFE_OFFSET(0)] AS illumination,
    AdmittingDiagnosesCodeSequence[SAFE_OFFSET(0)] AS diagnosis
  FROM sm
),
keyed AS (
  SELECT
    *,
    CONCAT(structure.CodingSchemeDesignator, ':', structure.CodeValue, ':', structure.CodeMeaning) AS structure_key,
    CONCAT(modifier.CodingSchemeDesignator, ':', modifier.CodeValue, ':', modifier.CodeMeaning) AS modifier_key,
    CONCAT(illumination.CodingSchemeDesignator, ':', illumination.CodeValue, ':', illumination.CodeMeaning) AS illumination_key,
    CONCAT(diagnosis.CodingSchemeDesignator, ':', diagnosis.CodeValue, ':', diagnosis.CodeMeaning) AS diagnosis_key
  FROM terms
),
chosen AS (
  -- per series, the term with the smallest string, as upstream; upstream then splits that string at
  -- ':', which cuts a meaning that contains ':', while the fields are taken whole here
  SELECT
    SeriesInstanceUID,
    ANY_VALUE(IF(structure_key IS NULL, NULL, structure) HAVING MIN structure_key) AS structure,
    ANY_VALUE(IF(modifier_key IS NULL, NULL, modifier) HAVING MIN modifier_key) AS modifier,
    ANY_VALUE(IF(illumination_key IS NULL, NULL, illumination) HAVING MIN illumination_key) AS illumination,
    ANY_VALUE(IF(diagnosis_key IS NULL, NULL, diagnosis) HAVING MIN diagnosis_key) AS diagnosis
  FROM keyed
  GROUP BY SeriesInstanceUID
),
per_series AS (
  SELECT
    SeriesInstanceUID,
    MIN(ContainerIdentifier) AS ContainerIdentifier,
    -- the spacing at the highest resolution: the top-level PixelSpacing when an instance has one,
    -- else the shared functional groups' (SAFE_CAST as upstream: DS values)
    COALESCE(
      MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64)),
      MIN(SAFE_CAST(SharedFunctionalGroupsSequence[SAFE_OFFSET(0)].PixelMeasuresSequence[SAFE_OFFSET(0)].PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64))
    ) AS min_spacing,
    -- the largest image; an instance without TotalPixelMatrix* (a single-frame slide) gives its Rows/Columns
    COALESCE(MAX(TotalPixelMatrixColumns), MAX(`Columns`)) AS max_TotalPixelMatrixColumns,
    COALESCE(MAX(TotalPixelMatrixRows), MAX(`Rows`)) AS max_TotalPixelMatrixRows,
    -- a DS: read as a number first (BigQuery's SAFE_CAST('20.0' AS INT64) is NULL, DuckDB's is 20)
    MIN(SAFE_CAST(OpticalPathSequence[SAFE_OFFSET(0)].ObjectiveLensPower AS FLOAT64)) AS lens_power
  FROM sm
  GROUP BY SeriesInstanceUID
)
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the SM series (joins with idc_index and sm_instance_index)
  s.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column ContainerIdentifier: identifier of the container (glass slide) holding the specimen (DICOM ContainerIdentifier)
  s.ContainerIdentifier AS ContainerIdentifier,
  -- @column embeddingMedium_CodeMeaning: embedding media of the specimen preparation, e.g. Paraffin wax,
  --   distinct, sorted by the string meaning:scheme:value (as idc-index-data)
  c.embedding_meanings AS embeddingMedium_CodeMeaning,
  -- @column embeddingMedium_code_designator_value_str: embedding medium codes as CodingSchemeDesignator:CodeValue,
  --   in the order of embeddingMedium_CodeMeaning
  c.embedding_codes AS embeddingMedium_code_designator_value_str,
  -- @column tissueFixative_CodeMeaning: tissue fixatives, e.g. Formalin, distinct, sorted by the string
  --   meaning:scheme:value
  c.fixative_meanings AS tissueFixative_CodeMeaning,
  -- @column tissueFixative_code_designator_value_str: tissue fixative codes as CodingSchemeDesignator:CodeValue,
  --   in the order of tissueFixative_CodeMeaning
  c.fixative_codes AS tissueFixative_code_designator_value_str,
  -- @column staining_usingSubstance_CodeMeaning: staining substances, e.g. hematoxylin stain, water soluble eosin stain,
  --   distinct, sorted by the string meaning:scheme:value (so CD31 comes before CD3)
  c.staining_meanings AS staining_usingSubstance_CodeMeaning,
  -- @column staining_usingSubstance_code_designator_value_str: staining substance codes as
  --   CodingSchemeDesignator:CodeValue, in the order of staining_usingSubstance_CodeMeaning
  c.staining_codes AS staining_usingSubstance_code_designator_value_str,
  -- As upstream: IF(x = 0, 0, ROUND(x, 2-1-FLOOR(LOG10(ABS(x))))). LOG10 of 0, NaN or infinity and the
  -- INT cast of its result are errors in BigQuery (DuckDB returns -inf or NaN): such a value, or one
  -- too small or large to scale, is returned as it is. INT (BigQuery's INT64) transpiles to DuckDB's
  -- 32-bit INT, the precision DuckDB's ROUND(DOUBLE, INT) takes.
  -- @column min_PixelSpacing_2sf: pixel spacing in mm at the highest resolution level, rounded to 2
  --   significant figures (0 stays 0)
  CASE
    WHEN s.min_spacing = 0 THEN 0
    WHEN ABS(s.min_spacing) > 1e-300 AND ABS(s.min_spacing) < 1e300
      THEN ROUND(s.min_spacing, CAST(2 - 1 - FLOOR(LOG10(ABS(s.min_spacing))) AS INT))
    ELSE s.min_spacing
  END AS min_PixelSpacing_2sf,
  -- @column max_TotalPixelMatrixColumns: width in pixels of the image at the highest resolution
  --   (DICOM TotalPixelMatrixColumns; Columns when no instance has it)
  s.max_TotalPixelMatrixColumns AS max_TotalPixelMatrixColumns,
  -- @column max_TotalPixelMatrixRows: height in pixels of the image at the highest resolution
  --   (DICOM TotalPixelMatrixRows; Rows when no instance has it)
  s.max_TotalPixelMatrixRows AS max_TotalPixelMatrixRows,
  -- @column ObjectiveLensPower: power of the objective lens (OpticalPathSequence[0].ObjectiveLensPower)
  SAFE_CAST(s.lens_power AS INT64) AS ObjectiveLensPower,
  -- @column primaryAnatomicStructure_code_designator_value_str: primary anatomic structure code as
  --   CodingSchemeDesignator:CodeValue (where the instances differ, the term with the smallest
  --   scheme:value:meaning, as for the other coded terms below)
  CONCAT(t.structure.CodingSchemeDesignator, ':', t.structure.CodeValue) AS primaryAnatomicStructure_code_designator_value_str,
  -- @column primaryAnatomicStructure_CodeMeaning: meaning of the primary anatomic structure, e.g. Breast
  t.structure.CodeMeaning AS primaryAnatomicStructure_CodeMeaning,
  -- @column primaryAnatomicStructureModifier_code_designator_value_str: modifier of the structure as
  --   CodingSchemeDesignator:CodeValue, when given
  CONCAT(t.modifier.CodingSchemeDesignator, ':', t.modifier.CodeValue) AS primaryAnatomicStructureModifier_code_designator_value_str,
  -- @column primaryAnatomicStructureModifier_CodeMeaning: meaning of the modifier, e.g. Left
  t.modifier.CodeMeaning AS primaryAnatomicStructureModifier_CodeMeaning,
  -- @column illuminationType_code_designator_value_str: illumination type code of the first optical
  --   path as CodingSchemeDesignator:CodeValue
  CONCAT(t.illumination.CodingSchemeDesignator, ':', t.illumination.CodeValue) AS illuminationType_code_designator_value_str,
  -- @column illuminationType_CodeMeaning: meaning of the illumination type, e.g. Brightfield illumination
  t.illumination.CodeMeaning AS illuminationType_CodeMeaning,
  -- @column admittingDiagnosis_code_designator_value_str: admitting diagnosis code as
  --   CodingSchemeDesignator:CodeValue, when given
  CONCAT(t.diagnosis.CodingSchemeDesignator, ':', t.diagnosis.CodeValue) AS admittingDiagnosis_code_designator_value_str,
  -- @column admittingDiagnosis_CodeMeaning: meaning of the admitting diagnosis
  t.diagnosis.CodeMeaning AS admittingDiagnosis_CodeMeaning
FROM per_series AS s
JOIN chosen AS t
  ON s.SeriesInstanceUID = t.SeriesInstanceUID
LEFT JOIN coded AS c
  ON s.SeriesInstanceUID = c.SeriesInstanceUID
