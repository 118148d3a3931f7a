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
  -- @column sources: the sources the collection's data came from, one element per source
  ARRAY(
    SELECT AS STRUCT
      -- @column sources.source_id: identifier of the source (original collection or analysis result)
      src.source_id AS source_id,
      -- @column sources.source_title: title of the source
      src.source_title AS source_title,
      -- @column sources.source_type: original_data or analysis_result
      src.source_type AS source_type,
      -- @column sources.source_doi: DOI of the source
      src.source_doi AS source_doi,
      -- @column sources.source_url: URL to learn more about the source
      src.source_url AS source_url,
      -- @column sources.modalities: modalities of the source's data
      src.modalities AS modalities,
      -- @column sources.license: license of the source's data
      STRUCT(
        -- @column sources.license.license_url: URL of the license text
        src.license.license_url AS license_url,
        -- @column sources.license.license_long_name: full name of the license
        src.license.license_long_name AS license_long_name,
        -- @column sources.license.license_short_name: short name of the license, e.g. CC BY 4.0
        src.license.license_short_name AS license_short_name
      ) AS license,
      -- @column sources.citation: how to cite the source
      src.citation AS citation,
      -- @column sources.provenance: the parties responsible for the source's data
      STRUCT(
        -- @column sources.provenance.data_contributor: who contributed the data to IDC
        src.provenance.data_contributor AS data_contributor,
        -- @column sources.provenance.source_data_provider: who provided the source material
        src.provenance.source_data_provider AS source_data_provider,
        -- @column sources.provenance.deidentification_party: who de-identified the data
        src.provenance.deidentification_party AS deidentification_party,
        -- @column sources.provenance.dicom_conversion_by: who produced the DICOM representation
        src.provenance.dicom_conversion_by AS dicom_conversion_by
      ) AS provenance,
      -- @column sources.Access: access level of the source's data (Public)
      src.Access AS Access,
      -- @column sources.ImageTypes: image types (modalities) in the source
      src.ImageTypes AS ImageTypes
    FROM UNNEST(sources) AS src
  ) AS sources,
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
