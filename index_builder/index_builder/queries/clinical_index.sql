-- @table A dictionary of the clinical and other tabular data that accompany IDC collections: one
-- row per collection, table and column, with the coded values the column takes. Fetch a table
-- itself with idc-index's get_clinical_table().
SELECT
  -- @column collection_id: identifier of the collection the table accompanies
  collection_id,
  -- @column table_name: full BigQuery name of the table that holds the column
  table_name,
  -- @column short_table_name: the table's name without project and dataset
  SPLIT(table_name, '.')[SAFE_OFFSET(2)] AS short_table_name,
  -- @column column: name of the column
  `column`,
  -- @column column_label: human-readable name of the column
  NULLIF(column_label, '') AS column_label,
  -- @column values: the coded values found in the column, in the order IDC's table holds them (empty
  --   when it is not coded)
  -- @column values.option_code: a value as stored in the column
  -- @column values.option_description: what the value means
  `values`
FROM `{clinical_dataset}.column_metadata`
