-- @table One row per Microscopy Bulk Simple Annotations (ANN) series: the coordinate type of its
-- annotations and the slide image series they annotate. The groups of annotations of each series
-- are in ann_group_index.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the annotation series (joins with idc_index)
  SeriesInstanceUID,
  -- @column AnnotationCoordinateType: 2D (image coordinates) or 3D (slide coordinates) (DICOM attribute)
  MIN(AnnotationCoordinateType) AS AnnotationCoordinateType,
  -- @column referenced_SeriesInstanceUID: SeriesInstanceUID of the image series the annotations apply to
  MIN(ReferencedSeriesSequence[SAFE_OFFSET(0)].SeriesInstanceUID) AS referenced_SeriesInstanceUID
FROM `{dataset}.dicom_all`
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.91.1'
GROUP BY SeriesInstanceUID
