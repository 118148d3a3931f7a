-- @table One row per annotation group of a Microscopy Bulk Simple Annotations (ANN) series: its
-- label, how it was generated, the number and graphic type of its annotations, what they annotate
-- (property category and type codes) and the algorithm that produced them.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the annotation series (joins with ann_index and idc_index)
  ann.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column AnnotationGroupNumber: number of the group within the series (DICOM AnnotationGroupNumber)
  grp.AnnotationGroupNumber AS AnnotationGroupNumber,
  -- @column AnnotationGroupUID: unique identifier of the group (DICOM AnnotationGroupUID)
  grp.AnnotationGroupUID AS AnnotationGroupUID,
  -- @column AnnotationGroupLabel: label of the group (DICOM AnnotationGroupLabel)
  grp.AnnotationGroupLabel AS AnnotationGroupLabel,
  -- @column AnnotationGroupGenerationType: MANUAL, SEMIAUTOMATIC or AUTOMATIC (DICOM AnnotationGroupGenerationType)
  grp.AnnotationGroupGenerationType AS AnnotationGroupGenerationType,
  -- @column NumberOfAnnotations: number of annotations in the group (DICOM NumberOfAnnotations)
  grp.NumberOfAnnotations AS NumberOfAnnotations,
  -- @column GraphicType: POINT, POLYLINE, POLYGON, ELLIPSE or RECTANGLE (DICOM GraphicType)
  grp.GraphicType AS GraphicType,
  -- @column AnnotationPropertyCategory_code: category of what is annotated, as CodingSchemeDesignator:CodeValue
  CONCAT(grp.AnnotationPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodingSchemeDesignator, ':',
         grp.AnnotationPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeValue) AS AnnotationPropertyCategory_code,
  -- @column AnnotationPropertyCategory_CodeMeaning: meaning of the property category code
  grp.AnnotationPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS AnnotationPropertyCategory_CodeMeaning,
  -- @column AnnotationPropertyType_code: type of what is annotated, as CodingSchemeDesignator:CodeValue
  CONCAT(grp.AnnotationPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodingSchemeDesignator, ':',
         grp.AnnotationPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeValue) AS AnnotationPropertyType_code,
  -- @column AnnotationPropertyType_CodeMeaning: meaning of the property type code
  grp.AnnotationPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS AnnotationPropertyType_CodeMeaning,
  -- @column AlgorithmName: name of the algorithm that produced the group (DICOM AlgorithmName)
  grp.AnnotationGroupAlgorithmIdentificationSequence[SAFE_OFFSET(0)].AlgorithmName AS AlgorithmName
FROM `{dataset}.dicom_all` AS ann
CROSS JOIN UNNEST(ann.AnnotationGroupSequence) AS grp
WHERE ann.SOPClassUID = '1.2.840.10008.5.1.4.1.1.91.1'
