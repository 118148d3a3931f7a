-- @table One row per Positron Emission Tomography Image Storage series (SOPClassUID
-- 1.2.840.10008.5.1.4.1.1.128) with the acquisition, correction, reconstruction and
-- radiopharmaceutical parameters that idc_index does not carry. Joins with idc_index on
-- SeriesInstanceUID.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the PET series (joins with idc_index)
  SeriesInstanceUID,
  -- @column SeriesType: series type as its two values joined by a slash, e.g. WHOLE BODY/IMAGE (DICOM SeriesType);
  --   NULL when the instances have none (BigQuery stores a missing repeated field as [], which joins to '')
  MIN(NULLIF(ARRAY_TO_STRING(SeriesType, '/'), '')) AS SeriesType,
  -- @column Units: units of the pixel values, e.g. BQML, CNTS (DICOM Units)
  MIN(Units) AS Units,
  -- @column DecayCorrection: decay correction reference: NONE, START or ADMIN (DICOM DecayCorrection)
  MIN(DecayCorrection) AS DecayCorrection,
  -- @column CorrectedImage: corrections applied, e.g. DECY, ATTN, SCAT (DICOM CorrectedImage)
  ANY_VALUE(CorrectedImage HAVING MIN SOPInstanceUID) AS CorrectedImage,
  -- @column RandomsCorrectionMethod: randoms correction method (DICOM RandomsCorrectionMethod)
  MIN(RandomsCorrectionMethod) AS RandomsCorrectionMethod,
  -- @column ReconstructionMethod: reconstruction algorithm, e.g. OSEM (DICOM ReconstructionMethod)
  MIN(ReconstructionMethod) AS ReconstructionMethod,
  -- @column ActualFrameDuration: distinct frame durations in ms in the series, sorted (DICOM ActualFrameDuration)
  ARRAY_AGG(DISTINCT SAFE_CAST(ActualFrameDuration AS FLOAT64) IGNORE NULLS ORDER BY SAFE_CAST(ActualFrameDuration AS FLOAT64)) AS ActualFrameDuration,
  -- @column ScatterCorrectionMethod: scatter correction method (DICOM ScatterCorrectionMethod)
  MIN(ScatterCorrectionMethod) AS ScatterCorrectionMethod,
  -- @column AttenuationCorrectionMethod: attenuation correction method (DICOM AttenuationCorrectionMethod)
  MIN(AttenuationCorrectionMethod) AS AttenuationCorrectionMethod,
  -- @column RadionuclideCodeMeaning: radionuclide, e.g. ^18^Fluorine
  --   (RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence[0].CodeMeaning)
  MIN(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].RadionuclideCodeSequence[SAFE_OFFSET(0)].CodeMeaning) AS RadionuclideCodeMeaning,
  -- @column RadionuclideTotalDose: administered activity in Bq (RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose)
  MIN(SAFE_CAST(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].RadionuclideTotalDose AS FLOAT64)) AS RadionuclideTotalDose,
  -- @column RadiopharmaceuticalStartTime: injection time, HH:MM:SS[.FFFFFF] (RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartTime)
  --   BigQuery types it TIME (DICOM VR TM), which parquet files of the index do not carry: a string HH:MM:SS[.FFFFFF]
  CAST(MIN(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].RadiopharmaceuticalStartTime) AS STRING) AS RadiopharmaceuticalStartTime,
  -- @column Radiopharmaceutical: name of the radiopharmaceutical (RadiopharmaceuticalInformationSequence[0].Radiopharmaceutical)
  MIN(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].Radiopharmaceutical) AS Radiopharmaceutical,
  -- @column PixelSpacing_row_mm: spacing between rows in mm, DICOM PixelSpacing[0]
  MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64)) AS PixelSpacing_row_mm,
  -- @column PixelSpacing_col_mm: spacing between columns in mm, DICOM PixelSpacing[1]
  MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64)) AS PixelSpacing_col_mm,
  -- @column Rows: number of pixel rows of a slice (DICOM Rows)
  MIN(`Rows`) AS `Rows`,
  -- @column Columns: number of pixel columns of a slice (DICOM Columns)
  MIN(`Columns`) AS `Columns`,
  -- @column SliceThickness: nominal slice thickness in mm (DICOM SliceThickness)
  MIN(SAFE_CAST(SliceThickness AS FLOAT64)) AS SliceThickness,
  -- @column NumberOfSlices: number of slices per time frame (DICOM NumberOfSlices)
  MIN(NumberOfSlices) AS NumberOfSlices,
  -- @column NumberOfTimeSlices: number of time frames of a dynamic acquisition (DICOM NumberOfTimeSlices)
  MIN(NumberOfTimeSlices) AS NumberOfTimeSlices
FROM `{dataset}.dicom_all`
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.128'
GROUP BY SeriesInstanceUID
