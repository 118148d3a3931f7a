-- @table One row per analysis results collection in IDC (segmentations, annotations and other
-- derived data produced from IDC collections): its title, DOI, the collections analyzed, license,
-- citation and provenance.
SELECT
  -- @column analysis_result_id: identifier of the analysis results collection (joins with idc_index.analysis_result_id)
  analysis_result_id,
  -- @column analysis_result_title: name of the analysis results collection
  analysis_result_title,
  -- @column source_DOI: DOI of the analysis results collection
  source_doi AS source_DOI,
  -- @column source_url: URL to learn more about the analysis results collection
  source_url,
  -- @column subjects: number of subjects analyzed
  subjects,
  -- @column collections: collections analyzed, comma-separated
  collections,
  -- @column modalities: modalities of the analysis artifacts
  modalities,
  -- @column updated: date of the last update, YYYY-MM-DD
  CAST(Updated AS STRING) AS updated,
  -- @column license_url: URL of the license
  license_url,
  -- @column license_long_name: full name of the license
  license_long_name,
  -- @column license_short_name: short name of the license
  license_short_name,
  -- @column description: detailed description of the analysis results collection
  description,
  -- @column citation: how to cite the analysis results collection
  citation,
  -- @column provenance: the parties responsible for the data
  STRUCT(
    -- @column provenance.data_contributor: who contributed the data to IDC
    provenance.data_contributor AS data_contributor,
    -- @column provenance.source_data_provider: who provided the source material
    provenance.source_data_provider AS source_data_provider,
    -- @column provenance.deidentification_party: who de-identified the data
    provenance.deidentification_party AS deidentification_party,
    -- @column provenance.dicom_conversion_by: who produced the DICOM representation
    provenance.dicom_conversion_by AS dicom_conversion_by
  ) AS provenance
FROM `{dataset}.analysis_results_metadata`
