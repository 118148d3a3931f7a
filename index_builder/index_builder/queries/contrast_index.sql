-- @table One row per CT, MR, PT, XA or RF series with contrast bolus information: the distinct agents,
-- ingredients and administration routes recorded in its instances. Series without any are absent.
WITH per_series AS (
  SELECT
    SeriesInstanceUID,
    ARRAY_AGG(DISTINCT ContrastBolusAgent IGNORE NULLS ORDER BY ContrastBolusAgent) AS agents,
    ARRAY_AGG(DISTINCT ContrastBolusIngredient IGNORE NULLS ORDER BY ContrastBolusIngredient) AS ingredients,
    ARRAY_AGG(DISTINCT ContrastBolusRoute IGNORE NULLS ORDER BY ContrastBolusRoute) AS routes,
    COUNTIF(ContrastBolusAgent IS NOT NULL OR ContrastBolusIngredient IS NOT NULL OR ContrastBolusRoute IS NOT NULL) AS n
  FROM `{dataset}.dicom_all`
  WHERE Modality IN ('CT', 'MR', 'PT', 'XA', 'RF')
  GROUP BY SeriesInstanceUID
)
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the imaging series (joins with idc_index)
  SeriesInstanceUID,
  -- @column ContrastBolusAgent: distinct contrast agents of the series (DICOM ContrastBolusAgent)
  agents AS ContrastBolusAgent,
  -- @column ContrastBolusIngredient: distinct active ingredients of the agents (DICOM ContrastBolusIngredient)
  ingredients AS ContrastBolusIngredient,
  -- @column ContrastBolusRoute: distinct administration routes, e.g. IV or ORAL (DICOM ContrastBolusRoute)
  routes AS ContrastBolusRoute
FROM per_series
WHERE n > 0
