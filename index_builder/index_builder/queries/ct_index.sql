-- @table One row per CT Image Storage series (SOPClassUID 1.2.840.10008.5.1.4.1.1.2) with the
-- acquisition and reconstruction parameters that idc_index does not carry. Values constant in a
-- series are taken from any instance; per-slice values are given as min and max. Joins with
-- idc_index on SeriesInstanceUID.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the CT series (joins with idc_index)
  SeriesInstanceUID,
  -- @column ImageType: DICOM ImageType values, e.g. ORIGINAL, PRIMARY, AXIAL (of any instance)
  ANY_VALUE(ImageType HAVING MIN SOPInstanceUID) AS ImageType,
  -- @column PixelSpacing_row_mm: spacing between rows in mm, DICOM PixelSpacing[0]
  MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64)) AS PixelSpacing_row_mm,
  -- @column PixelSpacing_col_mm: spacing between columns in mm, DICOM PixelSpacing[1]
  MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64)) AS PixelSpacing_col_mm,
  -- @column Rows: number of pixel rows of a slice (DICOM Rows)
  MIN(`Rows`) AS `Rows`,
  -- @column Columns: number of pixel columns of a slice (DICOM Columns)
  MIN(`Columns`) AS `Columns`,
  -- @column SliceThickness: nominal reconstructed slice thickness in mm (DICOM SliceThickness)
  MIN(SAFE_CAST(SliceThickness AS FLOAT64)) AS SliceThickness,
  -- @column KVP: peak kilovoltage of the X-ray tube in kV (DICOM KVP)
  MIN(SAFE_CAST(KVP AS FLOAT64)) AS KVP,
  -- @column ScanOptions: acquisition scan options, e.g. HELICAL MODE (DICOM ScanOptions)
  ANY_VALUE(ScanOptions HAVING MIN SOPInstanceUID) AS ScanOptions,
  -- @column ConvolutionKernel: reconstruction kernel(s), vendor-specific (DICOM ConvolutionKernel)
  ANY_VALUE(ConvolutionKernel HAVING MIN SOPInstanceUID) AS ConvolutionKernel,
  -- @column GantryDetectorTilt: gantry tilt in degrees (DICOM GantryDetectorTilt)
  MIN(SAFE_CAST(GantryDetectorTilt AS FLOAT64)) AS GantryDetectorTilt,
  -- @column XRayTubeCurrent_min: lowest X-ray tube current in mA over the slices (DICOM XRayTubeCurrent)
  MIN(SAFE_CAST(XRayTubeCurrent AS FLOAT64)) AS XRayTubeCurrent_min,
  -- @column XRayTubeCurrent_max: highest X-ray tube current in mA over the slices (DICOM XRayTubeCurrent)
  MAX(SAFE_CAST(XRayTubeCurrent AS FLOAT64)) AS XRayTubeCurrent_max,
  -- @column FilterType: X-ray filter, e.g. BODY FILTER (DICOM FilterType)
  MIN(FilterType) AS FilterType,
  -- @column Exposure_min: lowest exposure in mAs over the slices (DICOM Exposure)
  MIN(SAFE_CAST(Exposure AS FLOAT64)) AS Exposure_min,
  -- @column Exposure_max: highest exposure in mAs over the slices (DICOM Exposure)
  MAX(SAFE_CAST(Exposure AS FLOAT64)) AS Exposure_max,
  -- @column ExposureTime_min: shortest exposure time in ms over the slices (DICOM ExposureTime)
  MIN(SAFE_CAST(ExposureTime AS FLOAT64)) AS ExposureTime_min,
  -- @column ExposureTime_max: longest exposure time in ms over the slices (DICOM ExposureTime)
  MAX(SAFE_CAST(ExposureTime AS FLOAT64)) AS ExposureTime_max,
  -- @column DataCollectionDiameter: diameter in mm of the region data were collected over (DICOM DataCollectionDiameter)
  MIN(SAFE_CAST(DataCollectionDiameter AS FLOAT64)) AS DataCollectionDiameter,
  -- @column ReconstructionDiameter: diameter in mm of the reconstructed field of view (DICOM ReconstructionDiameter)
  MIN(SAFE_CAST(ReconstructionDiameter AS FLOAT64)) AS ReconstructionDiameter,
  -- @column SpiralPitchFactor: table feed per rotation over total collimation width, helical CT (DICOM SpiralPitchFactor)
  MIN(SpiralPitchFactor) AS SpiralPitchFactor
FROM `{dataset}.dicom_all`
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.2'
GROUP BY SeriesInstanceUID
