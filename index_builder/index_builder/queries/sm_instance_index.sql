-- @table One row per instance of a slide microscopy (SM) series: the pyramid level it is (pixel
-- spacing, image and tile sizes, ImageType, PyramidUID/PyramidLabel), the slide and specimen it
-- shows (ContainerIdentifier, SpecimenUID, preparation steps as coded terms, primary anatomic
-- structure), the optical paths it was imaged with, its encoding and what is needed to download it
-- (instance size and object key). The columns of idc-index-data 25.0.5's sm_instance_index come first,
-- in its order; the columns added since follow them.
WITH sm AS (
  SELECT *
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.77.1.6'
),
preparation AS (
  SELECT DISTINCT
    sm.SOPInstanceUID,
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
  -- Meanings and codes of a step in one order, so that they pair up: that of idc-index-data 25.0.5,
  -- which sorts the strings 'meaning:scheme:value' (so 'CD31' comes before 'CD3'); meaning breaks the
  -- tie of two terms with the same string. Upstream splits each string at its first ':' into meaning
  -- and code, which cuts a meaning that contains ':'; here meaning and code are kept whole. A term
  -- without meaning, scheme or value is left out (upstream's array would hold a NULL, which BigQuery
  -- cannot return).
  SELECT
    SOPInstanceUID,
    ARRAY_AGG(IF(kind = 'embedding', meaning, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS embedding_meanings,
    ARRAY_AGG(IF(kind = 'embedding', code, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS embedding_codes,
    ARRAY_AGG(IF(kind = 'fixative', meaning, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS fixative_meanings,
    ARRAY_AGG(IF(kind = 'fixative', code, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS fixative_codes,
    ARRAY_AGG(IF(kind = 'staining', meaning, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS staining_meanings,
    ARRAY_AGG(IF(kind = 'staining', code, NULL) IGNORE NULLS ORDER BY CONCAT(meaning, ':', code), meaning) AS staining_codes
  FROM preparation
  WHERE kind IS NOT NULL AND meaning IS NOT NULL AND code IS NOT NULL
  GROUP BY SOPInstanceUID
)
SELECT
  -- @column SOPInstanceUID: DICOM SOPInstanceUID of the instance
  sm.SOPInstanceUID AS SOPInstanceUID,
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of its series (joins with sm_index and idc_index)
  sm.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column embeddingMedium_CodeMeaning: embedding medium of the specimen preparation, e.g. Paraffin wax
  --   (SpecimenPreparationSequence items named SCT:430863003); distinct, sorted by the string
  --   meaning:scheme:value (as idc-index-data), as are the other coded terms of the preparation
  c.embedding_meanings AS embeddingMedium_CodeMeaning,
  -- @column embeddingMedium_code_designator_value_str: embedding medium codes as CodingSchemeDesignator:CodeValue,
  --   in the order of embeddingMedium_CodeMeaning
  c.embedding_codes AS embeddingMedium_code_designator_value_str,
  -- @column tissueFixative_CodeMeaning: tissue fixative, e.g. Formalin (items named SCT:430864009)
  c.fixative_meanings AS tissueFixative_CodeMeaning,
  -- @column tissueFixative_code_designator_value_str: tissue fixative codes as CodingSchemeDesignator:CodeValue,
  --   in the order of tissueFixative_CodeMeaning
  c.fixative_codes AS tissueFixative_code_designator_value_str,
  -- @column staining_usingSubstance_CodeMeaning: staining substances, e.g. hematoxylin stain (items named SCT:424361007)
  c.staining_meanings AS staining_usingSubstance_CodeMeaning,
  -- @column staining_usingSubstance_code_designator_value_str: staining substance codes as
  --   CodingSchemeDesignator:CodeValue, in the order of staining_usingSubstance_CodeMeaning
  c.staining_codes AS staining_usingSubstance_code_designator_value_str,
  -- @column PixelSpacing_0: spacing between rows in mm
  --   (SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing[0])
  SAFE_CAST(sm.SharedFunctionalGroupsSequence[SAFE_OFFSET(0)].PixelMeasuresSequence[SAFE_OFFSET(0)].PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64) AS PixelSpacing_0,
  -- @column ImageType: DICOM ImageType values; the third tells VOLUME (a pyramid level), LABEL,
  --   OVERVIEW or THUMBNAIL
  sm.ImageType AS ImageType,
  -- @column TransferSyntaxUID: encoding of the instance (DICOM TransferSyntaxUID)
  sm.TransferSyntaxUID AS TransferSyntaxUID,
  -- @column instance_size: size of the instance file in bytes
  sm.instance_size AS instance_size,
  -- @column TotalPixelMatrixColumns: width in pixels of the whole image at this level (DICOM TotalPixelMatrixColumns)
  sm.TotalPixelMatrixColumns AS TotalPixelMatrixColumns,
  -- @column TotalPixelMatrixRows: height in pixels of the whole image at this level (DICOM TotalPixelMatrixRows)
  sm.TotalPixelMatrixRows AS TotalPixelMatrixRows,
  -- @column crdc_instance_uuid: identifier of the instance file in IDC; the object key in the bucket
  --   is <crdc_series_uuid>/<crdc_instance_uuid>.dcm
  sm.crdc_instance_uuid AS crdc_instance_uuid,
  -- @column ContainerIdentifier: identifier of the container (glass slide) holding the specimen (DICOM ContainerIdentifier)
  sm.ContainerIdentifier AS ContainerIdentifier,
  -- @column SpecimenUID: unique identifier of the specimen on the slide (SpecimenDescriptionSequence[0].SpecimenUID)
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].SpecimenUID AS SpecimenUID,
  -- @column SpecimenIdentifier: identifier of the specimen given by its institution (SpecimenDescriptionSequence[0].SpecimenIdentifier)
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].SpecimenIdentifier AS SpecimenIdentifier,
  -- @column primaryAnatomicStructure_CodingSchemeDesignator: coding scheme of the specimen's primary anatomic structure
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].CodingSchemeDesignator AS primaryAnatomicStructure_CodingSchemeDesignator,
  -- @column primaryAnatomicStructure_CodeValue: code value of the primary anatomic structure
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].CodeValue AS primaryAnatomicStructure_CodeValue,
  -- @column primaryAnatomicStructure_CodeMeaning: meaning of the primary anatomic structure, e.g. Breast
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].CodeMeaning AS primaryAnatomicStructure_CodeMeaning,
  -- @column primaryAnatomicStructureModifier_CodingSchemeDesignator: coding scheme of the structure's modifier
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureModifierSequence[SAFE_OFFSET(0)].CodingSchemeDesignator AS primaryAnatomicStructureModifier_CodingSchemeDesignator,
  -- @column primaryAnatomicStructureModifier_CodeValue: code value of the modifier
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureModifierSequence[SAFE_OFFSET(0)].CodeValue AS primaryAnatomicStructureModifier_CodeValue,
  -- @column primaryAnatomicStructureModifier_CodeMeaning: meaning of the modifier, e.g. Left
  sm.SpecimenDescriptionSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureSequence[SAFE_OFFSET(0)].PrimaryAnatomicStructureModifierSequence[SAFE_OFFSET(0)].CodeMeaning AS primaryAnatomicStructureModifier_CodeMeaning,
  -- @column optical_paths: the optical paths the instance was imaged with (DICOM OpticalPathSequence)
  ARRAY(
    SELECT AS STRUCT
      -- @column optical_paths.OpticalPathIdentifier: identifier of the optical path within the instance
      op.OpticalPathIdentifier AS OpticalPathIdentifier,
      -- @column optical_paths.illuminationType_code_designator_value_str: illumination type code as
      --   CodingSchemeDesignator:CodeValue, e.g. DCM:111744 (brightfield)
      CONCAT(op.IlluminationTypeCodeSequence[SAFE_OFFSET(0)].CodingSchemeDesignator, ':',
             op.IlluminationTypeCodeSequence[SAFE_OFFSET(0)].CodeValue) AS illuminationType_code_designator_value_str,
      -- @column optical_paths.illuminationType_CodeMeaning: meaning of the illumination type code
      op.IlluminationTypeCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS illuminationType_CodeMeaning,
      -- @column optical_paths.illuminationColor_code_designator_value_str: illumination color code as
      --   CodingSchemeDesignator:CodeValue (NULL when a wavelength is given instead)
      CONCAT(op.IlluminationColorCodeSequence[SAFE_OFFSET(0)].CodingSchemeDesignator, ':',
             op.IlluminationColorCodeSequence[SAFE_OFFSET(0)].CodeValue) AS illuminationColor_code_designator_value_str,
      -- @column optical_paths.illuminationColor_CodeMeaning: meaning of the illumination color code, e.g. Full Spectrum
      op.IlluminationColorCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS illuminationColor_CodeMeaning,
      -- @column optical_paths.IlluminationWaveLength: wavelength of the illumination in nm (fluorescence)
      op.IlluminationWaveLength AS IlluminationWaveLength,
      -- @column optical_paths.ObjectiveLensPower: power of the objective lens, e.g. 20
      SAFE_CAST(op.ObjectiveLensPower AS FLOAT64) AS ObjectiveLensPower
    FROM UNNEST(sm.OpticalPathSequence) AS op
  ) AS optical_paths,
  -- @column PixelSpacing_1: spacing between columns in mm (PixelSpacing[1] of the same item)
  SAFE_CAST(sm.SharedFunctionalGroupsSequence[SAFE_OFFSET(0)].PixelMeasuresSequence[SAFE_OFFSET(0)].PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64) AS PixelSpacing_1,
  -- @column Rows: rows of a tile (frame) (DICOM Rows)
  sm.`Rows` AS `Rows`,
  -- @column Columns: columns of a tile (frame) (DICOM Columns)
  sm.`Columns` AS `Columns`,
  -- @column PyramidUID: identifier shared by the instances of one multi-resolution pyramid (DICOM PyramidUID)
  sm.PyramidUID AS PyramidUID,
  -- @column PyramidLabel: human-readable label of the pyramid (DICOM PyramidLabel)
  sm.PyramidLabel AS PyramidLabel
FROM sm
LEFT JOIN coded AS c
  ON sm.SOPInstanceUID = c.SOPInstanceUID
