-- @table One row per MR Image Storage series (SOPClassUID 1.2.840.10008.5.1.4.1.1.4) with the
-- acquisition and sequence parameters that idc_index does not carry. Values constant in a series are
-- taken from any instance; echo times and diffusion b-values are listed. Joins with idc_index on
-- SeriesInstanceUID.
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the MR series (joins with idc_index)
  SeriesInstanceUID,
  -- @column MagneticFieldStrength: static field strength in tesla (DICOM MagneticFieldStrength)
  ANY_VALUE(MagneticFieldStrength) AS MagneticFieldStrength,
  -- @column ScanningSequence: sequence type(s), e.g. SE, GR, IR, EP (DICOM ScanningSequence)
  ANY_VALUE(ScanningSequence) AS ScanningSequence,
  -- @column SequenceVariant: sequence variant(s), e.g. SK, SP (DICOM SequenceVariant)
  ANY_VALUE(SequenceVariant) AS SequenceVariant,
  -- @column MRAcquisitionType: 2D or 3D (DICOM MRAcquisitionType)
  ANY_VALUE(MRAcquisitionType) AS MRAcquisitionType,
  -- @column EchoTime: distinct echo times in ms in the series, sorted (DICOM EchoTime)
  ARRAY_AGG(DISTINCT EchoTime IGNORE NULLS ORDER BY EchoTime) AS EchoTime,
  -- @column RepetitionTime: repetition time in ms (DICOM RepetitionTime)
  ANY_VALUE(RepetitionTime) AS RepetitionTime,
  -- @column EchoTrainLength: number of echoes in the echo train (DICOM EchoTrainLength)
  ANY_VALUE(EchoTrainLength) AS EchoTrainLength,
  -- @column FlipAngle: flip angle in degrees (DICOM FlipAngle)
  ANY_VALUE(FlipAngle) AS FlipAngle,
  -- @column PixelBandwidth: receiver bandwidth per pixel in Hz (DICOM PixelBandwidth)
  ANY_VALUE(PixelBandwidth) AS PixelBandwidth,
  -- @column ImagingFrequency: precession frequency in MHz of the imaged nucleus (DICOM ImagingFrequency)
  ANY_VALUE(ImagingFrequency) AS ImagingFrequency,
  -- @column ImagedNucleus: imaged nucleus, e.g. 1H (DICOM ImagedNucleus)
  ANY_VALUE(ImagedNucleus) AS ImagedNucleus,
  -- @column PixelSpacing_row_mm: spacing between rows in mm, DICOM PixelSpacing[0]
  ANY_VALUE(PixelSpacing[SAFE_OFFSET(0)]) AS PixelSpacing_row_mm,
  -- @column PixelSpacing_col_mm: spacing between columns in mm, DICOM PixelSpacing[1]
  ANY_VALUE(PixelSpacing[SAFE_OFFSET(1)]) AS PixelSpacing_col_mm,
  -- @column Rows: number of pixel rows of an image (DICOM Rows)
  ANY_VALUE(`Rows`) AS `Rows`,
  -- @column Columns: number of pixel columns of an image (DICOM Columns)
  ANY_VALUE(`Columns`) AS `Columns`,
  -- @column SliceThickness: nominal slice thickness in mm (DICOM SliceThickness)
  ANY_VALUE(SliceThickness) AS SliceThickness,
  -- @column InversionTime: inversion time in ms, for inversion-recovery sequences (DICOM InversionTime)
  ANY_VALUE(InversionTime) AS InversionTime,
  -- @column ReceiveCoilName: name of the receive coil (DICOM ReceiveCoilName)
  ANY_VALUE(ReceiveCoilName) AS ReceiveCoilName,
  -- @column SequenceName: manufacturer's name of the pulse sequence (DICOM SequenceName)
  ANY_VALUE(SequenceName) AS SequenceName,
  -- @column DiffusionBValue: distinct diffusion b-values in s/mm2 in the series, sorted (DICOM DiffusionBValue)
  ARRAY_AGG(DISTINCT DiffusionBValue IGNORE NULLS ORDER BY DiffusionBValue) AS DiffusionBValue,
  -- @column NumberOfTemporalPositions: number of time points of a dynamic acquisition (DICOM NumberOfTemporalPositions)
  ANY_VALUE(NumberOfTemporalPositions) AS NumberOfTemporalPositions
FROM `{dataset}.dicom_all`
WHERE SOPClassUID = '1.2.840.10008.5.1.4.1.1.4'
GROUP BY SeriesInstanceUID
