-- @table One row per IDC data release with the date it was published; use it to turn the release
-- numbers of other indices (series_init_idc_version, min_idc_version, ...) into dates.
SELECT
  -- @column idc_version: IDC release number
  idc_version,
  -- @column version_timestamp: date the release was published, YYYY-MM-DD
  CAST(version_timestamp AS STRING) AS version_timestamp
FROM `{dataset}.version_metadata`
