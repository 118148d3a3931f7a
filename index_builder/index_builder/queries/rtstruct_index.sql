-- @table One row per RT Structure Set (RTSTRUCT) series: the number of ROIs, their names, how they
-- were generated, their interpreted types, and the image series they were drawn on.
WITH rtstruct AS (
  SELECT *
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.481.3'
),
rois AS (
  SELECT
    r.SeriesInstanceUID,
    roi.ROINumber,
    roi.ROIName,
    roi.ROIGenerationAlgorithm,
    obs.RTROIInterpretedType
  FROM rtstruct AS r
  CROSS JOIN UNNEST(r.StructureSetROISequence) AS roi
  LEFT JOIN UNNEST(r.RTROIObservationsSequence) AS obs
    ON obs.ReferencedROINumber = roi.ROINumber
),
referenced AS (
  SELECT
    r.SeriesInstanceUID,
    MIN(ser.SeriesInstanceUID) AS referenced_SeriesInstanceUID
  FROM rtstruct AS r
  CROSS JOIN UNNEST(r.ReferencedFrameOfReferenceSequence) AS frame
  CROSS JOIN UNNEST(frame.RTReferencedStudySequence) AS study
  CROSS JOIN UNNEST(study.RTReferencedSeriesSequence) AS ser
  GROUP BY r.SeriesInstanceUID
)
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the RT Structure Set series (joins with idc_index)
  rois.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column total_rois: number of distinct ROIs (DICOM ROINumber in StructureSetROISequence)
  COUNT(DISTINCT rois.ROINumber) AS total_rois,
  -- @column ROINames: distinct ROI names, sorted (DICOM ROIName)
  ARRAY_AGG(DISTINCT rois.ROIName IGNORE NULLS ORDER BY rois.ROIName) AS ROINames,
  -- @column ROIGenerationAlgorithms: distinct ROI generation algorithms: AUTOMATIC, SEMIAUTOMATIC or MANUAL
  ARRAY_AGG(DISTINCT rois.ROIGenerationAlgorithm IGNORE NULLS ORDER BY rois.ROIGenerationAlgorithm) AS ROIGenerationAlgorithms,
  -- @column RTROIInterpretedTypes: distinct ROI interpreted types, e.g. GTV, ORGAN (DICOM RTROIInterpretedType)
  ARRAY_AGG(DISTINCT rois.RTROIInterpretedType IGNORE NULLS ORDER BY rois.RTROIInterpretedType) AS RTROIInterpretedTypes,
  -- @column referenced_SeriesInstanceUID: SeriesInstanceUID of the image series the structure set refers to
  MIN(referenced.referenced_SeriesInstanceUID) AS referenced_SeriesInstanceUID
FROM rois
LEFT JOIN referenced
  ON rois.SeriesInstanceUID = referenced.SeriesInstanceUID
GROUP BY rois.SeriesInstanceUID
