-- @table One row per Positron Emission Tomography Image Storage series (SOPClassUID
-- 1.2.840.10008.5.1.4.1.1.128) with the acquisition, correction, reconstruction and
-- radiopharmaceutical parameters that idc_index does not carry. Joins with idc_index on
-- SeriesInstanceUID.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the PET series (joins with idc_index)
  SeriesInstanceUID,
  -- @column SeriesType: series type as its two values joined by a slash, e.g. WHOLE BODY/IMAGE (DICOM SeriesType)
  ANY_VALUE(ARRAY_TO_STRING(SeriesType, '/')) AS SeriesType,
  -- @column Units: units of the pixel values, e.g. BQML, CNTS (DICOM Units)
  ANY_VALUE(Units) AS Units,
  -- @column DecayCorrection: decay correction reference: NONE, START or ADMIN (DICOM DecayCorrection)
  ANY_VALUE(DecayCorrection) AS DecayCorrection,
  -- @column CorrectedImage: corrections applied, e.g. DECY, ATTN, SCAT (DICOM CorrectedImage)
  ANY_VALUE(CorrectedImage) AS CorrectedImage,
  -- @column RandomsCorrectionMethod: randoms correction method (DICOM RandomsCorrectionMethod)
  ANY_VALUE(RandomsCorrectionMethod) AS RandomsCorrectionMethod,
  -- @column ReconstructionMethod: reconstruction algorithm, e.g. OSEM (DICOM ReconstructionMethod)
  ANY_VALUE(ReconstructionMethod) AS ReconstructionMethod,
  -- @column ActualFrameDuration: distinct frame durations in ms in the series, sorted (DICOM ActualFrameDuration)
  ARRAY_AGG(DISTINCT CAST(ActualFrameDuration AS FLOAT64) IGNORE NULLS ORDER BY CAST(ActualFrameDuration AS FLOAT64)) AS ActualFrameDuration,
  -- @column ScatterCorrectionMethod: scatter correction method (DICOM ScatterCorrectionMethod)
  ANY_VALUE(ScatterCorrectionMethod) AS ScatterCorrectionMethod,
  -- @column AttenuationCorrectionMethod: attenuation correction method (DICOM AttenuationCorrectionMethod)
  ANY_VALUE(AttenuationCorrectionMethod) AS AttenuationCorrectionMethod,
  -- @column RadionuclideCodeMeaning: radionuclide, e.g. ^18^Fluorine
  --   (RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence[0].CodeMeaning)
  ANY_VALUE(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].RadionuclideCodeSequence[SAFE_OFFSET(0)].CodeMeaning) AS RadionuclideCodeMeaning,
  -- @column RadionuclideTotalDose: administered activity in Bq (RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose)
  ANY_VALUE(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].RadionuclideTotalDose) AS RadionuclideTotalDose,
  -- @column RadiopharmaceuticalStartTime: injection time, HHMMSS.FFFFFF (RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartTime)
  ANY_VALUE(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].RadiopharmaceuticalStartTime) AS RadiopharmaceuticalStartTime,
  -- @column Radiopharmaceutical: name of the radiopharmaceutical (RadiopharmaceuticalInformationSequence[0].Radiopharmaceutical)
  ANY_VALUE(RadiopharmaceuticalInformationSequence[SAFE_OFFSET(0)].Radiopharmaceutical) AS Radiopharmaceutical,
  -- @column PixelSpacing_row_mm: spacing between rows in mm, DICOM PixelSpacing[0]
  ANY_VALUE(PixelSpacing[SAFE_OFFSET(0)]) AS PixelSpacing_row_mm,
  -- @column PixelSpacing_col_mm: spacing between columns in mm, DICOM PixelSpacing[1]
  ANY_VALUE(PixelSpacing[SAFE_OFFSET(1)]) AS PixelSpacing_col_mm,
  -- @column Rows: number of pixel rows of a slice (DICOM Rows)
  ANY_VALUE(`Rows`) AS `Rows`,
  -- @column Columns: number of pixel columns of a slice (DICOM Columns)
  ANY_VALUE(`Columns`) AS `Columns`,
  -- @column SliceThickness: nominal slice thickness in mm (DICOM SliceThickness)
  ANY_VALUE(SliceThickness) AS SliceThickness,
  -- @column NumberOfSlices: number of slices per time frame (DICOM NumberOfSlices)
  ANY_VALUE(NumberOfSlices) AS NumberOfSlices,
  -- @column NumberOfTimeSlices: number of time frames of a dynamic acquisition (DICOM NumberOfTimeSlices)
  ANY_VALUE(NumberOfTimeSlices) AS NumberOfTimeSlices
FROM `{dataset}.dicom_all`
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.128'
GROUP BY SeriesInstanceUID
