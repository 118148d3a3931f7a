-- @table Versions of IDC series that an earlier release served and this release no longer serves,
-- each with the range of releases that served it. A version is identified by crdc_series_uuid. A
-- SeriesInstanceUID that is also in idc_index was revised (its current version is there); one that
-- is not was removed. Files of these versions stay downloadable from series_aws_url.
WITH all_versions AS (
  -- @for-each-prior-release
  SELECT
    {release} AS idc_version,
    collection_id,
    PatientID,
    SeriesInstanceUID,
    StudyInstanceUID,
    Modality,
    REGEXP_EXTRACT(gcs_url, r'^gs://([^/]+)/') AS gcs_bucket,
    crdc_series_uuid,
    ROUND(SUM(CAST(instance_size AS FLOAT64)) / 1000000, 2) AS series_size_MB
  FROM `{release_dataset}.dicom_all`
  -- a row without a series UUID names no downloadable version (idc-index-data's NOT IN drops it too)
  WHERE crdc_series_uuid IS NOT NULL
  GROUP BY collection_id, PatientID, SeriesInstanceUID, StudyInstanceUID, Modality, gcs_bucket, crdc_series_uuid
  -- @end-for-each
),
current_versions AS (
  SELECT DISTINCT crdc_series_uuid
  FROM `{dataset}.dicom_all`
),
past_versions AS (
  SELECT
    v.*,
    -- each GCS bucket of IDC has a public AWS counterpart; NULL (rejected by the builder's gate)
    -- for a bucket not listed here
    CASE v.gcs_bucket
      WHEN 'public-datasets-idc' THEN 'idc-open-data'
      WHEN 'idc-open-data' THEN 'idc-open-data'
      WHEN 'idc-open-idc1' THEN 'idc-open-data-two'
      WHEN 'idc-open-cr' THEN 'idc-open-data-cr'
    END AS aws_bucket
  FROM all_versions AS v
  LEFT JOIN current_versions AS c
    ON v.crdc_series_uuid = c.crdc_series_uuid
  WHERE c.crdc_series_uuid IS NULL
    -- idc-open-idc holds data with no AWS copy
    AND v.gcs_bucket != 'idc-open-idc'
)
SELECT
  -- @column collection_id: identifier of the collection the series belonged to
  collection_id,
  -- @column PatientID: identifier of the patient within the collection (DICOM attribute)
  PatientID,
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID; the same for every version of a series, so
  --   it also finds the current version in idc_index
  SeriesInstanceUID,
  -- @column StudyInstanceUID: DICOM StudyInstanceUID of the study the series belongs to
  StudyInstanceUID,
  -- @column Modality: DICOM Modality of the series
  Modality,
  -- @column gcs_bucket: Google Cloud Storage bucket that held this version in the releases of the range
  gcs_bucket,
  -- @column crdc_series_uuid: identifier of this version of the series in IDC; changes whenever the
  --   content of the series changes
  crdc_series_uuid,
  -- @column series_size_MB: total size of this version of the series in megabytes (10^6 bytes), rounded
  --   to 2 decimals
  series_size_MB,
  -- @column series_aws_url: S3 URL of all files of this version, s3://<aws_bucket>/<crdc_series_uuid>/*
  CONCAT('s3://', aws_bucket, '/', crdc_series_uuid, '/*') AS series_aws_url,
  -- @column aws_bucket: public AWS S3 bucket that holds this version of the series
  aws_bucket,
  -- @column min_idc_version: first IDC release of the range that served this version from this bucket
  MIN(idc_version) AS min_idc_version,
  -- @column max_idc_version: last IDC release of the range; the next release revised or removed the series
  MAX(idc_version) AS max_idc_version
FROM past_versions
-- the size is part of the version's identity, as in idc-index-data: a size that changed between
-- releases starts a new row
GROUP BY collection_id, PatientID, SeriesInstanceUID, StudyInstanceUID, Modality, gcs_bucket, crdc_series_uuid,
  series_size_MB, aws_bucket
