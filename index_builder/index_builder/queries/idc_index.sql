-- @table The main metadata table of idc-index: one row per DICOM series, with attributes at the
-- collection, patient, study and series levels and what is needed to download the series (AWS S3
-- bucket, series UUID and URL).
--
-- Unmapped SOP classes and transfer syntaxes yield NULL names here (never ERROR(), which DuckDB
-- evaluates differently inside DISTINCT aggregates); the builder's quality gate rejects them.
WITH instances AS (
  -- columns listed, not d.*: BigQuery bills by the columns a query reads
  SELECT
    d.collection_id, d.analysis_result_id, d.PatientID, d.SeriesInstanceUID, d.StudyInstanceUID,
    d.SOPInstanceUID, d.source_DOI, d.PatientAge, d.PatientSex, d.StudyDate, d.StudyDescription,
    d.Modality, d.SOPClassUID, d.TransferSyntaxUID, d.PhotometricInterpretation, d.PixelRepresentation,
    d.Manufacturer, d.ManufacturerModelName, d.SeriesDate, d.SeriesDescription, d.SeriesNumber,
    d.license_short_name, d.aws_bucket, d.crdc_series_uuid, d.instance_size,
    CASE d.SOPClassUID
      WHEN '1.2.840.10008.5.1.4.1.1.1' THEN 'Computed Radiography Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.1.1' THEN 'Digital X-Ray Image Storage - For Presentation'
      WHEN '1.2.840.10008.5.1.4.1.1.1.1.1' THEN 'Digital X-Ray Image Storage - For Processing'
      WHEN '1.2.840.10008.5.1.4.1.1.1.2' THEN 'Digital Mammography X-Ray Image Storage - For Presentation'
      WHEN '1.2.840.10008.5.1.4.1.1.1.2.1' THEN 'Digital Mammography X-Ray Image Storage - For Processing'
      WHEN '1.2.840.10008.5.1.4.1.1.104.3' THEN 'Encapsulated STL Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.11.1' THEN 'Grayscale Softcopy Presentation State Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.11.8' THEN 'Advanced Blending Presentation State Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.12.1' THEN 'X-Ray Angiographic Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.12.2' THEN 'X-Ray Radiofluoroscopic Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.128' THEN 'Positron Emission Tomography Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.13.1.3' THEN 'Breast Tomosynthesis Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.13.1.4' THEN 'Breast Projection X-Ray Image Storage - For Presentation'
      WHEN '1.2.840.10008.5.1.4.1.1.13.1.5' THEN 'Breast Projection X-Ray Image Storage - For Processing'
      WHEN '1.2.840.10008.5.1.4.1.1.2' THEN 'CT Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.20' THEN 'Nuclear Medicine Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.3.1' THEN 'Ultrasound Multi-frame Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.30' THEN 'Parametric Map Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.4' THEN 'MR Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.481.2' THEN 'RT Dose Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.481.3' THEN 'RT Structure Set Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.481.5' THEN 'RT Plan Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.6.1' THEN 'Ultrasound Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66' THEN 'Raw Data Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66.1' THEN 'Spatial Registration Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66.4' THEN 'Segmentation Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.66.7' THEN 'Label Map Segmentation Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.67' THEN 'Real World Value Mapping Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.7' THEN 'Secondary Capture Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.7.2' THEN 'Multi-frame Grayscale Byte Secondary Capture Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.77.1.6' THEN 'VL Whole Slide Microscopy Image Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.22' THEN 'Enhanced SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.33' THEN 'Comprehensive SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.34' THEN 'Comprehensive 3D SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.59' THEN 'Key Object Selection Document Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.67' THEN 'X-Ray Radiation Dose SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.88.71' THEN 'Acquisition Context SR Storage'
      WHEN '1.2.840.10008.5.1.4.1.1.91.1' THEN 'Microscopy Bulk Simple Annotations Storage'
    END AS sop_class_name_,
    CASE d.TransferSyntaxUID
      WHEN '1.2.840.10008.1.2' THEN 'Implicit VR Little Endian'
      WHEN '1.2.840.10008.1.2.1' THEN 'Explicit VR Little Endian'
      WHEN '1.2.840.10008.1.2.1.99' THEN 'Deflated Explicit VR Little Endian'
      WHEN '1.2.840.10008.1.2.2' THEN 'Explicit VR Big Endian'
      WHEN '1.2.840.10008.1.2.4.50' THEN 'JPEG Baseline'
      WHEN '1.2.840.10008.1.2.4.51' THEN 'JPEG Extended'
      WHEN '1.2.840.10008.1.2.4.70' THEN 'JPEG Lossless'
      WHEN '1.2.840.10008.1.2.4.80' THEN 'JPEG-LS Lossless'
      WHEN '1.2.840.10008.1.2.4.81' THEN 'JPEG-LS Near-Lossless'
      WHEN '1.2.840.10008.1.2.4.90' THEN 'JPEG 2000 Lossless'
      WHEN '1.2.840.10008.1.2.4.91' THEN 'JPEG 2000'
      WHEN '1.2.840.10008.1.2.4.201' THEN 'High-Throughput JPEG 2000 Lossless'
      WHEN '1.2.840.10008.1.2.4.202' THEN 'High-Throughput JPEG 2000 with RPCL Options Lossless'
      WHEN '1.2.840.10008.1.2.4.203' THEN 'High-Throughput JPEG 2000'
      WHEN '1.2.840.10008.1.2.5' THEN 'RLE Lossless'
    END AS transfer_syntax_name_
  FROM `{dataset}.dicom_all` AS d
),
curated AS (
  SELECT SOPInstanceUID, BodyPartExamined
  FROM `{dataset}.dicom_metadata_curated`
),
aux_series AS (
  SELECT
    SeriesInstanceUID,
    MIN(series_init_idc_version) AS series_init_idc_version,
    MAX(series_revised_idc_version) AS series_revised_idc_version
  FROM `{dataset}.auxiliary_metadata`
  GROUP BY SeriesInstanceUID
)
SELECT
  -- @column collection_id: short string with the identifier of the collection the series belongs to
  MIN(i.collection_id) AS collection_id,
  -- @column analysis_result_id: identifier of the analysis results collection the series belongs to
  --   (see analysis_results_index), or NULL if the series is original data; select original data
  --   only with analysis_result_id IS NULL. Analysis result series share the collection_id of the
  --   collection they analyze, so a filter on collection_id alone returns both
  MIN(i.analysis_result_id) AS analysis_result_id,
  -- @column PatientID: identifier of the patient within the collection (DICOM attribute)
  MIN(i.PatientID) AS PatientID,
  -- @column SeriesInstanceUID: unique identifier of the DICOM series (DICOM attribute)
  i.SeriesInstanceUID AS SeriesInstanceUID,
  -- @column StudyInstanceUID: unique identifier of the DICOM study (DICOM attribute)
  MIN(i.StudyInstanceUID) AS StudyInstanceUID,
  -- @column source_DOI: Digital Object Identifier of the dataset that contains the series; follow
  --   it to learn about the activity that produced the series
  MIN(i.source_DOI) AS source_DOI,
  -- @column PatientAge: age of the subject at the time of imaging, e.g. 061Y (DICOM attribute)
  MIN(NULLIF(i.PatientAge, '')) AS PatientAge,
  -- @column PatientSex: subject sex (DICOM attribute)
  MIN(i.PatientSex) AS PatientSex,
  -- @column StudyDate: date of the study, YYYY-MM-DD (de-identified) (DICOM attribute)
  MIN(CAST(i.StudyDate AS STRING)) AS StudyDate,
  -- @column StudyDescription: textual description of the study content (DICOM attribute)
  MIN(i.StudyDescription) AS StudyDescription,
  -- @column BodyPartExamined: body part imaged, curated by IDC (not applicable to SM). For derived
  --   series (SEG, RTSTRUCT) it reflects the source acquisition, not the segmented anatomy: see
  --   seg_index and rtstruct_index for what was segmented
  MIN(c.BodyPartExamined) AS BodyPartExamined,
  -- @column Modality: acquisition modality (DICOM attribute)
  MIN(i.Modality) AS Modality,
  -- @column SOPClassUID: SOP Class UID of the DICOM objects of the series (e.g. CT Image Storage,
  --   Segmentation Storage); more specific than Modality (DICOM attribute)
  MIN(i.SOPClassUID) AS SOPClassUID,
  -- @column sop_class_name: human-readable name of the SOP Class, derived from SOPClassUID
  MIN(i.sop_class_name_) AS sop_class_name,
  -- @column TransferSyntaxUID: Transfer Syntax UID of the stored instances (e.g. Explicit VR Little
  --   Endian, JPEG 2000); comma-separated, sorted, when a series mixes encodings, as SM series often
  --   do (DICOM attribute)
  STRING_AGG(DISTINCT i.TransferSyntaxUID, ',' ORDER BY i.TransferSyntaxUID) AS TransferSyntaxUID,
  -- @column transfer_syntax_name: human-readable name(s) of the Transfer Syntax, comma-separated and
  --   sorted by name when a series mixes encodings; derived from TransferSyntaxUID (NULL when any of
  --   them is unknown to the builder)
  IF(
    COUNTIF(i.TransferSyntaxUID IS NOT NULL AND i.transfer_syntax_name_ IS NULL) > 0,
    NULL,
    STRING_AGG(DISTINCT i.transfer_syntax_name_, ',' ORDER BY i.transfer_syntax_name_)
  ) AS transfer_syntax_name,
  -- @column PhotometricInterpretation: intended interpretation of the pixel data, e.g. MONOCHROME2
  --   or YBR_FULL_422; NULL for non-image objects; comma-separated when instances differ (DICOM attribute)
  STRING_AGG(DISTINCT i.PhotometricInterpretation, ',' ORDER BY i.PhotometricInterpretation) AS PhotometricInterpretation,
  -- @column PixelRepresentation: "0" for unsigned, "1" for signed pixel values; NULL for non-image
  --   objects; comma-separated when instances differ (DICOM attribute)
  STRING_AGG(DISTINCT CAST(i.PixelRepresentation AS STRING), ',' ORDER BY CAST(i.PixelRepresentation AS STRING)) AS PixelRepresentation,
  -- @column Manufacturer: manufacturer of the equipment that produced the series (DICOM attribute)
  MIN(i.Manufacturer) AS Manufacturer,
  -- @column ManufacturerModelName: model name of the equipment that produced the series (DICOM attribute)
  MIN(i.ManufacturerModelName) AS ManufacturerModelName,
  -- @column SeriesDate: date of the series, YYYY-MM-DD (de-identified) (DICOM attribute)
  MIN(CAST(i.SeriesDate AS STRING)) AS SeriesDate,
  -- @column SeriesDescription: textual description of the series content (DICOM attribute)
  MIN(NULLIF(i.SeriesDescription, '')) AS SeriesDescription,
  -- @column SeriesNumber: series number, as stored (DICOM attribute)
  MIN(i.SeriesNumber) AS SeriesNumber,
  -- @column instanceCount: number of instances (files) in the series
  COUNT(i.SOPInstanceUID) AS instanceCount,
  -- @column license_short_name: short name of the license that applies to the series
  MIN(i.license_short_name) AS license_short_name,
  -- @column series_init_idc_version: IDC release in which the series first appeared (e.g. 1 for v1)
  MIN(a.series_init_idc_version) AS series_init_idc_version,
  -- @column series_revised_idc_version: IDC release in which the series was last revised (e.g. 24)
  MIN(a.series_revised_idc_version) AS series_revised_idc_version,
  -- @column aws_bucket: name of the public AWS S3 bucket that holds the series
  MIN(i.aws_bucket) AS aws_bucket,
  -- @column crdc_series_uuid: identifier of this version of the series in IDC; the folder of the
  --   series in the bucket
  MIN(i.crdc_series_uuid) AS crdc_series_uuid,
  -- @column series_aws_url: S3 URL of all files of the series, s3://<aws_bucket>/<crdc_series_uuid>/*
  --   (each instance is a separate file)
  MIN(CONCAT('s3://', i.aws_bucket, '/', i.crdc_series_uuid, '/*')) AS series_aws_url,
  -- @column series_size_MB: total size of the series in megabytes (10^6 bytes)
  SUM(CAST(i.instance_size AS FLOAT64)) / 1000000 AS series_size_MB
FROM instances AS i
LEFT JOIN curated AS c
  ON i.SOPInstanceUID = c.SOPInstanceUID
LEFT JOIN aux_series AS a
  ON i.SeriesInstanceUID = a.SeriesInstanceUID
GROUP BY i.SeriesInstanceUID
