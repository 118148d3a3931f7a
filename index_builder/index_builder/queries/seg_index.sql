-- @table One row per DICOM Segmentation series that has segments: segmentation type, number of
-- segments, the algorithm type and name, the image series that was segmented, and what was segmented
-- (distinct property categories, property types and anatomic regions across its segments).
-- Multi-valued columns are aggregated independently: the first AlgorithmType does not necessarily
-- pair with the first AlgorithmName.
--
-- As idc-index-data 25.0.5's seg_index.sql: a series whose instances have no SegmentSequence item
-- (not a valid Segmentation) has no row; the segmented series is the series that holds the first
-- instance the segmentation references, looked up in dicom_all. Upstream reads the segments from
-- dicom_metadata; dicom_all has the same DICOM attributes for the instances of the release, and
-- reading it keeps seg_index to the series that idc_index lists.
WITH segs AS (
  -- 66.4: Segmentation Storage (BINARY/FRACTIONAL), 66.7: Label Map Segmentation Storage (LABELMAP);
  -- the SOP class is more reliable than Modality = 'SEG'
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    SegmentationType,
    SegmentSequence,
    -- the first referenced instance: of ReferencedSeriesSequence, else ReferencedImageSequence,
    -- else SourceImageSequence (SAFE_OFFSET: an empty sequence gives NULL, not an error)
    COALESCE(
      ReferencedSeriesSequence[SAFE_OFFSET(0)].ReferencedInstanceSequence[SAFE_OFFSET(0)].ReferencedSOPInstanceUID,
      ReferencedImageSequence[SAFE_OFFSET(0)].ReferencedSOPInstanceUID,
      SourceImageSequence[SAFE_OFFSET(0)].ReferencedSOPInstanceUID) AS referenced_sop
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID IN ('1.2.840.10008.5.1.4.1.1.66.4', '1.2.840.10008.5.1.4.1.1.66.7')
),
resolved AS (
  -- the series in IDC that holds the referenced instance; NULL when the instance is not in IDC
  SELECT
    s.SeriesInstanceUID,
    s.SegmentationType,
    s.SegmentSequence,
    ref.SeriesInstanceUID AS segmented_SeriesInstanceUID
  FROM segs AS s
  LEFT JOIN `{dataset}.dicom_all` AS ref
    ON ref.SOPInstanceUID = s.referenced_sop
),
segments AS (
  -- one row per segment of each instance: an instance without segments contributes nothing
  SELECT
    r.SeriesInstanceUID,
    r.SegmentationType,
    r.segmented_SeriesInstanceUID,
    seg.SegmentNumber,
    seg.SegmentAlgorithmType,
    -- REPEATED in IDC's BigQuery schema
    seg.SegmentAlgorithmName[SAFE_OFFSET(0)] AS SegmentAlgorithmName,
    seg.SegmentedPropertyCategoryCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS category,
    seg.SegmentedPropertyTypeCodeSequence[SAFE_OFFSET(0)].CodeMeaning AS property_type,
    seg.AnatomicRegionSequence[SAFE_OFFSET(0)].CodeMeaning AS region
  FROM resolved AS r
  CROSS JOIN UNNEST(r.SegmentSequence) AS seg
)
-- Upstream takes ANY_VALUE of SegmentationType and segmented_SeriesInstanceUID; MIN is one of the
-- values ANY_VALUE may return (both skip NULLs) and the same on every run.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the segmentation series (joins with idc_index)
  SeriesInstanceUID,
  -- @column SegmentationType: BINARY, FRACTIONAL or LABELMAP (DICOM SegmentationType)
  MIN(SegmentationType) AS SegmentationType,
  -- @column total_segments: number of distinct segments (DICOM SegmentNumber)
  COUNT(DISTINCT SegmentNumber) AS total_segments,
  -- @column AlgorithmType: segment algorithm type(s), comma-separated: AUTOMATIC, SEMIAUTOMATIC or MANUAL
  STRING_AGG(DISTINCT SegmentAlgorithmType, ',' ORDER BY SegmentAlgorithmType) AS AlgorithmType,
  -- @column AlgorithmName: segment algorithm name(s), comma-separated (DICOM SegmentAlgorithmName)
  STRING_AGG(DISTINCT SegmentAlgorithmName, ',' ORDER BY SegmentAlgorithmName) AS AlgorithmName,
  -- @column segmented_SeriesInstanceUID: SeriesInstanceUID of the image series that was segmented: the
  --   series holding the first instance referenced in ReferencedSeriesSequence, ReferencedImageSequence
  --   or SourceImageSequence; NULL when that instance is not in IDC or none is referenced (exclude NULLs
  --   before NOT IN)
  MIN(segmented_SeriesInstanceUID) AS segmented_SeriesInstanceUID,
  -- @column SegmentedPropertyCategory_CodeMeanings: distinct meanings of the segmented property
  --   categories across all segments, sorted, e.g. Anatomical Structure
  ARRAY_AGG(DISTINCT category IGNORE NULLS ORDER BY category) AS SegmentedPropertyCategory_CodeMeanings,
  -- @column SegmentedPropertyType_CodeMeanings: distinct meanings of the segmented property types
  --   (what was segmented) across all segments, sorted, e.g. Liver, Kidney
  ARRAY_AGG(DISTINCT property_type IGNORE NULLS ORDER BY property_type) AS SegmentedPropertyType_CodeMeanings,
  -- @column AnatomicRegion_CodeMeanings: distinct meanings of the anatomic regions across all segments, sorted
  ARRAY_AGG(DISTINCT region IGNORE NULLS ORDER BY region) AS AnatomicRegion_CodeMeanings
FROM segments
GROUP BY SeriesInstanceUID
