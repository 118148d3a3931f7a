-- @table One row per collection in IDC: its name, the cancer types and tumor locations it covers,
-- the number of subjects, and where its data came from (sources, with license, citation and the
-- parties responsible for each source).
SELECT
  -- @column collection_name: name of the collection
  collection_name,
  -- @column collection_id: identifier of the collection (joins with idc_index.collection_id)
  collection_id,
  -- @column cancer_types: types of cancer represented in the collection
  cancer_types,
  -- @column tumor_locations: locations of the tumors represented in the collection
  tumor_locations,
  -- @column subjects: number of subjects in the collection
  subjects,
  -- @column species: species represented in the collection
  species,
  -- @column sources: the sources the collection's data came from, one element per source, as IDC's
  --   table holds them (in its order; a source without a provenance record has a NULL provenance)
  -- @column sources.source_id: identifier of the source (original collection or analysis result)
  -- @column sources.source_title: title of the source
  -- @column sources.source_type: original_data or analysis_result
  -- @column sources.source_doi: DOI of the source
  -- @column sources.source_url: URL to learn more about the source
  -- @column sources.modalities: modalities of the source's data
  -- @column sources.license: license of the source's data
  -- @column sources.license.license_url: URL of the license text
  -- @column sources.license.license_long_name: full name of the license
  -- @column sources.license.license_short_name: short name of the license, e.g. CC BY 4.0
  -- @column sources.citation: how to cite the source
  -- @column sources.provenance: the parties responsible for the source's data
  -- @column sources.provenance.data_contributor: who contributed the data to IDC
  -- @column sources.provenance.source_data_provider: who provided the source material
  -- @column sources.provenance.deidentification_party: who de-identified the data
  -- @column sources.provenance.dicom_conversion_by: who produced the DICOM representation
  -- @column sources.Access: access level of the source's data (Public)
  -- @column sources.ImageTypes: image types (modalities) in the source
  sources,
  -- @column supporting_data: additional data supporting the collection available in IDC
  NULLIF(supporting_data, '') AS supporting_data,
  -- @column program_id: broader initiative or program under which the collection is shared
  program_id,
  -- @column status: status of the collection (Complete or Ongoing)
  status,
  -- @column updated: date of the last update to the collection, YYYY-MM-DD
  CAST(updated AS STRING) AS updated,
  -- @column description: detailed description of the collection
  description
FROM `{dataset}.original_collections_metadata`
