-- @table One row per DICOM Segmentation series: segmentation type, number of segments, the
-- algorithm type and name, the image series that was segmented, and what was segmented (distinct
-- property categories, property types and anatomic regions across its segments).
WITH segs AS (
  SELECT *
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID IN ('1.2.840.10008.5.1.4.1.1.66.4', '1.2.840.10008.5.1.4.1.1.66.7')
),
segments AS (
  SELECT
    s.SeriesInstanceUID,
    seg.SegmentNumber,
    seg.SegmentAlgorithmType,
    seg.SegmentAlgorithmName[SAFE_OFFSET(0)] AS SegmentAlgorithmName,
    seg.SegmentedPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS category,
    seg.SegmentedPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS property_type,
    seg.AnatomicRegionSequence[SAFE_OFFSET(0)].CodeMeaning AS region
  FROM segs AS s
  CROSS JOIN UNNEST(s.SegmentSequence) AS seg
),
per_series AS (
  SELECT
    SeriesInstanceUID,
    ANY_VALUE(SegmentationType) AS SegmentationType,
    ANY_VALUE(ReferencedSeriesSequence[SAFE_OFFSET(0)].SeriesInstanceUID) AS segmented_SeriesInstanceUID
  FROM segs
  GROUP BY SeriesInstanceUID
)
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the segmentation series (joins with idc_index)
  p.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column SegmentationType: BINARY, FRACTIONAL or LABELMAP (DICOM SegmentationType)
  ANY_VALUE(p.SegmentationType) AS SegmentationType,
  -- @column total_segments: number of distinct segments (DICOM SegmentNumber)
  COUNT(DISTINCT s.SegmentNumber) AS total_segments,
  -- @column AlgorithmType: segment algorithm type(s), comma-separated: AUTOMATIC, SEMIAUTOMATIC or MANUAL
  STRING_AGG(DISTINCT s.SegmentAlgorithmType, ',' ORDER BY s.SegmentAlgorithmType) AS AlgorithmType,
  -- @column AlgorithmName: segment algorithm name(s), comma-separated (DICOM SegmentAlgorithmName)
  STRING_AGG(DISTINCT s.SegmentAlgorithmName, ',' ORDER BY s.SegmentAlgorithmName) AS AlgorithmName,
  -- @column segmented_SeriesInstanceUID: SeriesInstanceUID of the image series that was segmented
  ANY_VALUE(p.segmented_SeriesInstanceUID) AS segmented_SeriesInstanceUID,
  -- @column SegmentedPropertyCategory_CodeMeanings: distinct meanings of the segmented property
  --   categories across all segments, sorted
  ARRAY_AGG(DISTINCT s.category IGNORE NULLS ORDER BY s.category) AS SegmentedPropertyCategory_CodeMeanings,
  -- @column SegmentedPropertyType_CodeMeanings: distinct meanings of the segmented property types
  --   (what was segmented) across all segments, sorted
  ARRAY_AGG(DISTINCT s.property_type IGNORE NULLS ORDER BY s.property_type) AS SegmentedPropertyType_CodeMeanings,
  -- @column AnatomicRegion_CodeMeanings: distinct meanings of the anatomic regions across all segments, sorted
  ARRAY_AGG(DISTINCT s.region IGNORE NULLS ORDER BY s.region) AS AnatomicRegion_CodeMeanings
FROM per_series AS p
LEFT JOIN segments AS s
  ON p.SeriesInstanceUID = s.SeriesInstanceUID
GROUP BY p.SeriesInstanceUID
