-- @table One row per MR Image Storage series (SOPClassUID 1.2.840.10008.5.1.4.1.1.4) with the
-- acquisition and sequence parameters that idc_index does not carry. Values constant in a series are
-- taken from any instance; echo times and diffusion b-values are listed. Joins with idc_index on
-- SeriesInstanceUID.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the MR series (joins with idc_index)
  SeriesInstanceUID,
  -- @column MagneticFieldStrength: static field strength in tesla (DICOM MagneticFieldStrength)
  MIN(SAFE_CAST(MagneticFieldStrength AS FLOAT64)) AS MagneticFieldStrength,
  -- @column ScanningSequence: sequence type(s), e.g. SE, GR, IR, EP (DICOM ScanningSequence)
  ANY_VALUE(ScanningSequence HAVING MIN SOPInstanceUID) AS ScanningSequence,
  -- @column SequenceVariant: sequence variant(s), e.g. SK, SP (DICOM SequenceVariant)
  ANY_VALUE(SequenceVariant HAVING MIN SOPInstanceUID) AS SequenceVariant,
  -- @column MRAcquisitionType: 2D or 3D (DICOM MRAcquisitionType)
  MIN(MRAcquisitionType) AS MRAcquisitionType,
  -- @column EchoTime: distinct echo times in ms in the series, sorted (DICOM EchoTime)
  ARRAY_AGG(DISTINCT SAFE_CAST(EchoTime AS FLOAT64) IGNORE NULLS ORDER BY SAFE_CAST(EchoTime AS FLOAT64)) AS EchoTime,
  -- @column RepetitionTime: repetition time in ms (DICOM RepetitionTime)
  MIN(SAFE_CAST(RepetitionTime AS FLOAT64)) AS RepetitionTime,
  -- @column EchoTrainLength: number of echoes in the echo train (DICOM EchoTrainLength)
  MIN(SAFE_CAST(EchoTrainLength AS INT64)) AS EchoTrainLength,
  -- @column FlipAngle: flip angle in degrees (DICOM FlipAngle)
  MIN(SAFE_CAST(FlipAngle AS FLOAT64)) AS FlipAngle,
  -- @column PixelBandwidth: receiver bandwidth per pixel in Hz (DICOM PixelBandwidth)
  MIN(SAFE_CAST(PixelBandwidth AS FLOAT64)) AS PixelBandwidth,
  -- @column ImagingFrequency: precession frequency in MHz of the imaged nucleus (DICOM ImagingFrequency)
  MIN(SAFE_CAST(ImagingFrequency AS FLOAT64)) AS ImagingFrequency,
  -- @column ImagedNucleus: imaged nucleus, e.g. 1H (DICOM ImagedNucleus)
  MIN(ImagedNucleus) AS ImagedNucleus,
  -- @column PixelSpacing_row_mm: spacing between rows in mm, DICOM PixelSpacing[0]
  MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(0)] AS FLOAT64)) AS PixelSpacing_row_mm,
  -- @column PixelSpacing_col_mm: spacing between columns in mm, DICOM PixelSpacing[1]
  MIN(SAFE_CAST(PixelSpacing[SAFE_OFFSET(1)] AS FLOAT64)) AS PixelSpacing_col_mm,
  -- @column Rows: number of pixel rows of an image (DICOM Rows)
  MIN(`Rows`) AS `Rows`,
  -- @column Columns: number of pixel columns of an image (DICOM Columns)
  MIN(`Columns`) AS `Columns`,
  -- @column SliceThickness: nominal slice thickness in mm (DICOM SliceThickness)
  MIN(SAFE_CAST(SliceThickness AS FLOAT64)) AS SliceThickness,
  -- @column InversionTime: inversion time in ms, for inversion-recovery sequences (DICOM InversionTime)
  MIN(SAFE_CAST(InversionTime AS FLOAT64)) AS InversionTime,
  -- @column ReceiveCoilName: name of the receive coil (DICOM ReceiveCoilName)
  MIN(ReceiveCoilName) AS ReceiveCoilName,
  -- @column SequenceName: manufacturer's name of the pulse sequence (DICOM SequenceName)
  MIN(SequenceName) AS SequenceName,
  -- @column DiffusionBValue: distinct diffusion b-values in s/mm2 in the series, sorted (DICOM DiffusionBValue)
  ARRAY_AGG(DISTINCT DiffusionBValue IGNORE NULLS ORDER BY DiffusionBValue) AS DiffusionBValue,
  -- @column NumberOfTemporalPositions: number of time points of a dynamic acquisition (DICOM NumberOfTemporalPositions)
  MIN(SAFE_CAST(NumberOfTemporalPositions AS INT64)) AS NumberOfTemporalPositions
FROM `{dataset}.dicom_all`
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.4'
GROUP BY SeriesInstanceUID
