-- Checks of the release's instance table, dicom_all, for defects that the indices hide once they
-- aggregate it: ANY_VALUE() skips a NULL when another instance of the series has a value, COUNT()
-- and SUM() skip NULLs and count a repeated row twice, and one bucket or series UUID is picked for
-- the whole series. This is not an index: the builder runs it next to the indices that read
-- dicom_all, and its quality gates (gates.py, SOURCE_CHECKS) turn every count that is not zero into
-- a message and refuse to publish.
--
-- One row; for each check:
--   <check>_instances  rows (instances) of dicom_all with the defect
--   <check>_series     series they belong to
--   <check>_example    the smallest of them, as '<SeriesInstanceUID> <SOPInstanceUID>' (or, for
--                      the checks of a whole series, '<SeriesInstanceUID> <the values found>')
WITH instances AS (
  SELECT
    collection_id, PatientID, StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, instance_size,
    aws_bucket, crdc_series_uuid
  FROM `{dataset}.dicom_all`
),
flagged AS (
  SELECT
    SeriesInstanceUID,
    CONCAT(COALESCE(SeriesInstanceUID, 'NULL'), ' ', COALESCE(SOPInstanceUID, 'NULL')) AS example,
    COALESCE(collection_id, '') = '' AS no_collection_id,
    COALESCE(PatientID, '') = '' AS no_PatientID,
    COALESCE(StudyInstanceUID, '') = '' AS no_StudyInstanceUID,
    COALESCE(SeriesInstanceUID, '') = '' AS no_SeriesInstanceUID,
    COALESCE(SOPInstanceUID, '') = '' AS no_SOPInstanceUID,
    instance_size IS NULL OR instance_size <= 0 AS no_instance_size,
    COALESCE(aws_bucket, '') = '' AS no_aws_bucket,
    COALESCE(crdc_series_uuid, '') = '' AS no_crdc_series_uuid
  FROM instances
),
row_checks AS (
  SELECT
    COUNTIF(no_collection_id) AS no_collection_id_instances,
    COUNT(DISTINCT IF(no_collection_id, SeriesInstanceUID, NULL)) AS no_collection_id_series,
    MIN(IF(no_collection_id, example, NULL)) AS no_collection_id_example,
    COUNTIF(no_PatientID) AS no_PatientID_instances,
    COUNT(DISTINCT IF(no_PatientID, SeriesInstanceUID, NULL)) AS no_PatientID_series,
    MIN(IF(no_PatientID, example, NULL)) AS no_PatientID_example,
    COUNTIF(no_StudyInstanceUID) AS no_StudyInstanceUID_instances,
    COUNT(DISTINCT IF(no_StudyInstanceUID, SeriesInstanceUID, NULL)) AS no_StudyInstanceUID_series,
    MIN(IF(no_StudyInstanceUID, example, NULL)) AS no_StudyInstanceUID_example,
    COUNTIF(no_SeriesInstanceUID) AS no_SeriesInstanceUID_instances,
    COUNT(DISTINCT IF(no_SeriesInstanceUID, SeriesInstanceUID, NULL)) AS no_SeriesInstanceUID_series,
    MIN(IF(no_SeriesInstanceUID, example, NULL)) AS no_SeriesInstanceUID_example,
    COUNTIF(no_SOPInstanceUID) AS no_SOPInstanceUID_instances,
    COUNT(DISTINCT IF(no_SOPInstanceUID, SeriesInstanceUID, NULL)) AS no_SOPInstanceUID_series,
    MIN(IF(no_SOPInstanceUID, example, NULL)) AS no_SOPInstanceUID_example,
    COUNTIF(no_instance_size) AS no_instance_size_instances,
    COUNT(DISTINCT IF(no_instance_size, SeriesInstanceUID, NULL)) AS no_instance_size_series,
    MIN(IF(no_instance_size, example, NULL)) AS no_instance_size_example,
    COUNTIF(no_aws_bucket) AS no_aws_bucket_instances,
    COUNT(DISTINCT IF(no_aws_bucket, SeriesInstanceUID, NULL)) AS no_aws_bucket_series,
    MIN(IF(no_aws_bucket, example, NULL)) AS no_aws_bucket_example,
    COUNTIF(no_crdc_series_uuid) AS no_crdc_series_uuid_instances,
    COUNT(DISTINCT IF(no_crdc_series_uuid, SeriesInstanceUID, NULL)) AS no_crdc_series_uuid_series,
    MIN(IF(no_crdc_series_uuid, example, NULL)) AS no_crdc_series_uuid_example
  FROM flagged
),
repeated AS (
  -- SOPInstanceUIDs on more than one row: in one series (a duplicated row) or in several
  SELECT
    SOPInstanceUID,
    COUNT(*) AS n_rows,
    COUNT(DISTINCT SeriesInstanceUID) AS n_series,
    MIN(SeriesInstanceUID) AS first_series,
    MAX(SeriesInstanceUID) AS last_series
  FROM instances
  WHERE SOPInstanceUID IS NOT NULL
  GROUP BY SOPInstanceUID
  HAVING COUNT(*) > 1
),
repeated_checks AS (
  SELECT
    COALESCE(SUM(IF(n_series <= 1, n_rows - 1, 0)), 0) AS duplicated_rows_instances,
    COUNT(DISTINCT IF(n_series <= 1, first_series, NULL)) AS duplicated_rows_series,
    MIN(IF(n_series <= 1, CONCAT(COALESCE(first_series, 'NULL'), ' ', SOPInstanceUID), NULL)) AS duplicated_rows_example,
    COUNTIF(n_series > 1) AS shared_instance_instances,
    COALESCE(SUM(IF(n_series > 1, n_series, 0)), 0) AS shared_instance_series,
    MIN(IF(n_series > 1, CONCAT(first_series, ' ', SOPInstanceUID, ' ', last_series), NULL)) AS shared_instance_example
  FROM repeated
),
locations AS (
  -- series whose instances name more than one bucket or series UUID
  SELECT
    SeriesInstanceUID,
    COUNT(*) AS n_rows,
    COUNT(DISTINCT aws_bucket) AS n_buckets,
    STRING_AGG(DISTINCT aws_bucket, ',' ORDER BY aws_bucket) AS buckets,
    COUNT(DISTINCT crdc_series_uuid) AS n_uuids,
    STRING_AGG(DISTINCT crdc_series_uuid, ',' ORDER BY crdc_series_uuid) AS uuids
  FROM instances
  GROUP BY SeriesInstanceUID
  HAVING COUNT(DISTINCT aws_bucket) > 1 OR COUNT(DISTINCT crdc_series_uuid) > 1
),
location_checks AS (
  SELECT
    COALESCE(SUM(IF(n_buckets > 1, n_rows, 0)), 0) AS split_buckets_instances,
    COUNTIF(n_buckets > 1) AS split_buckets_series,
    MIN(IF(n_buckets > 1, CONCAT(SeriesInstanceUID, ' ', buckets), NULL)) AS split_buckets_example,
    COALESCE(SUM(IF(n_uuids > 1, n_rows, 0)), 0) AS split_uuids_instances,
    COUNTIF(n_uuids > 1) AS split_uuids_series,
    MIN(IF(n_uuids > 1, CONCAT(SeriesInstanceUID, ' ', uuids), NULL)) AS split_uuids_example
  FROM locations
)
SELECT
  r.*,
  d.*,
  l.*
FROM row_checks AS r
CROSS JOIN repeated_checks AS d
CROSS JOIN location_checks AS l
