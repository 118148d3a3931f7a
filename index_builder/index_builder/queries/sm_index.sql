-- @table One row per slide microscopy (SM) series: the slide, the specimen preparation (embedding,
-- fixative, stains as coded terms), the pixel spacing and image size at the highest resolution, the
-- objective lens power, the anatomic structure, illumination and admitting diagnosis. The
-- instances (pyramid levels) of each series are in sm_instance_index.
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
  SELECT
    SeriesInstanceUID,
    ARRAY_AGG(IF(kind = 'embedding', meaning, NULL) IGNORE NULLS ORDER BY meaning, code) AS embedding_meanings,
    ARRAY_AGG(IF(kind = 'embedding', code, NULL) IGNORE NULLS ORDER BY meaning, code) AS embedding_codes,
    ARRAY_AGG(IF(kind = 'fixative', meaning, NULL) IGNORE NULLS ORDER BY meaning, code) AS fixative_meanings,
    ARRAY_AGG(IF(kind = 'fixative', code, NULL) IGNORE NULLS ORDER BY meaning, code) AS fixative_codes,
    ARRAY_AGG(IF(kind = 'staining', meaning, NULL) IGNORE NULLS ORDER BY meaning, code) AS staining_meanings,
    ARRAY_AGG(IF(kind = 'staining', code, NULL) IGNORE NULLS ORDER BY meaning, code) AS staining_codes
  FROM preparation
  WHERE kind IS NOT NULL
  GROUP BY SeriesInstanceUID
),
per_series AS (
  SELECT
    SeriesInstanceUID,
    ANY_VALUE(ContainerIdentifier) AS ContainerIdentifier,
    MIN(SharedFunctionalGroupsSequence[SAFE_OFFSET(0)].PixelMeasuresSequence[SAFE_OFFSET(0)].PixelSpacing[SAFE_OFFSET(0)]) AS min_spacing,
    MAX(TotalPixelMatrixColumns) AS max_TotalPixelMatrixColumns,
    MAX(TotalPixelMatrixRows) AS max_TotalPixelMatrixRows,
    ANY_VALUE(OpticalPathSequence[SAFE_OFFSET(0)].ObjectiveLensPower) AS lens_power,
    ANY_VALUE(SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)]) AS structure,
    ANY_VALUE(SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureModifierSequence[SAFE_OFFSET(0)]) AS modifier,
    ANY_VALUE(OpticalPathSequence[SAFE_OFFSET(0)].IlluminationTypeCodeSequence[SAFE_OFFSET(0)]) AS illumination,
    ANY_VALUE(AdmittingDiagnosesCodeSequence[SAFE_OFFSET(0)]) AS diagnosis
  FROM sm
  GROUP BY SeriesInstanceUID
)
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the SM series (joins with idc_index and sm_instance_index)
  s.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column ContainerIdentifier: identifier of the container (glass slide) holding the specimen (DICOM ContainerIdentifier)
  s.ContainerIdentifier AS ContainerIdentifier,
  -- @column embeddingMedium_CodeMeaning: embedding media of the specimen preparation, e.g. Paraffin wax
  c.embedding_meanings AS embeddingMedium_CodeMeaning,
  -- @column embeddingMedium_code_designator_value_str: embedding medium codes as CodingSchemeDesignator:CodeValue,
  --   in the order of embeddingMedium_CodeMeaning
  c.embedding_codes AS embeddingMedium_code_designator_value_str,
  -- @column tissueFixative_CodeMeaning: tissue fixatives, e.g. Formalin
  c.fixative_meanings AS tissueFixative_CodeMeaning,
  -- @column tissueFixative_code_designator_value_str: tissue fixative codes as CodingSchemeDesignator:CodeValue,
  --   in the order of tissueFixative_CodeMeaning
  c.fixative_codes AS tissueFixative_code_designator_value_str,
  -- @column staining_usingSubstance_CodeMeaning: staining substances, e.g. hematoxylin stain, water soluble eosin stain
  c.staining_meanings AS staining_usingSubstance_CodeMeaning,
  -- @column staining_usingSubstance_code_designator_value_str: staining substance codes as
  --   CodingSchemeDesignator:CodeValue, in the order of staining_usingSubstance_CodeMeaning
  c.staining_codes AS staining_usingSubstance_code_designator_value_str,
  -- @column min_PixelSpacing_2sf: pixel spacing in mm at the highest resolution level, rounded to 2
  --   significant figures
  ROUND(s.min_spacing * POW(10, 1 - FLOOR(LOG10(s.min_spacing)))) / POW(10, 1 - FLOOR(LOG10(s.min_spacing))) AS min_PixelSpacing_2sf,
  -- @column max_TotalPixelMatrixColumns: width in pixels of the image at the highest resolution
  s.max_TotalPixelMatrixColumns AS max_TotalPixelMatrixColumns,
  -- @column max_TotalPixelMatrixRows: height in pixels of the image at the highest resolution
  s.max_TotalPixelMatrixRows AS max_TotalPixelMatrixRows,
  -- @column ObjectiveLensPower: power of the objective lens (OpticalPathSequence[0].ObjectiveLensPower)
  CAST(s.lens_power AS INT64) AS ObjectiveLensPower,
  -- @column primaryAnatomicStructure_code_designator_value_str: primary anatomic structure code as
  --   CodingSchemeDesignator:CodeValue
  CONCAT(s.structure.CodingSchemeDesignator, ':', s.structure.CodeValue) AS primaryAnatomicStructure_code_designator_value_str,
  -- @column primaryAnatomicStructure_CodeMeaning: meaning of the primary anatomic structure, e.g. Breast
  s.structure.CodeMeaning AS primaryAnatomicStructure_CodeMeaning,
  -- @column primaryAnatomicStructureModifier_code_designator_value_str: modifier of the structure as
  --   CodingSchemeDesignator:CodeValue, when given
  CONCAT(s.modifier.CodingSchemeDesignator, ':', s.modifier.CodeValue) AS primaryAnatomicStructureModifier_code_designator_value_str,
  -- @column primaryAnatomicStructureModifier_CodeMeaning: meaning of the modifier, e.g. Left
  s.modifier.CodeMeaning AS primaryAnatomicStructureModifier_CodeMeaning,
  -- @column illuminationType_code_designator_value_str: illumination type code of the first optical
  --   path as CodingSchemeDesignator:CodeValue
  CONCAT(s.illumination.CodingSchemeDesignator, ':', s.illumination.CodeValue) AS illuminationType_code_designator_value_str,
  -- @column illuminationType_CodeMeaning: meaning of the illumination type, e.g. Brightfield illumination
  s.illumination.CodeMeaning AS illuminationType_CodeMeaning,
  -- @column admittingDiagnosis_code_designator_value_str: admitting diagnosis code as
  --   CodingSchemeDesignator:CodeValue, when given
  CONCAT(s.diagnosis.CodingSchemeDesignator, ':', s.diagnosis.CodeValue) AS admittingDiagnosis_code_designator_value_str,
  -- @column admittingDiagnosis_CodeMeaning: meaning of the admitting diagnosis
  s.diagnosis.CodeMeaning AS admittingDiagnosis_CodeMeaning
FROM per_series AS s
LEFT JOIN coded AS c
  ON s.SeriesInstanceUID = c.SeriesInstanceUID
