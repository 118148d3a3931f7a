-- @table One row per single-frame CT, MR or PT series (localizers and MIP reconstructions excluded),
-- with checks of whether its slices form a regularly spaced rectilinear 3D volume (one orientation,
-- orthogonal direction cosines, distinct and evenly spaced slice positions, aligned in plane, same
-- pixel spacing and size) and, for the series that pass every check, what is needed to place the
-- volume in patient coordinates that no other index publishes: origin, orientation and the spacing
-- between slice planes. In-plane spacing and image size come from ct_index, mr_index or pt_index
-- (joined on SeriesInstanceUID). Slice positions are ImagePositionPatient projected on the slice
-- normal, so gantry-tilted and oblique series are handled like axial ones. Series that fail a check
-- may still be usable after resampling or geometry correction.
--
-- A port of idc-index-data 25.0.5's volume_geometry_index.sql: the same checks, tolerances and NULLs.
-- That file is a BigQuery script; its DECLAREd tolerances are literals here:
--   relativeSliceTolerance = 0.01  (slice spacing may vary by 1% of the expected spacing; highdicom's
--                                   default, which scales from human to small-animal imaging)
--   inPlaneTolerance       = 0.1   (mm of in-plane position jitter between slices)
--   orientationTolerance   = 0.01  (deviation of the cross product's magnitude from 1)
-- Where upstream takes ANY_VALUE of a value that can differ within a series, this query takes the
-- value of one instance, chosen deterministically (see sliceOrder). Where upstream's BigQuery job
-- would fail on a malformed instance (ImageOrientationPatient with 1 to 5 values: [OFFSET(i)] out of
-- range; a degenerate orientation, all zeros or parallel row and column vectors: division by a zero
-- cross-product magnitude; ACOS of a value above 1), this query publishes NULL instead (SAFE_OFFSET,
-- SAFE_DIVIDE, IF) and gives every other column the value upstream's logic gives.
WITH

-- Series with a localizer (scout) or MIP instance, of any SOP class: not volumetric acquisitions
-- (upstream's NOT IN subquery).
localizerOrMipSeries AS (
  SELECT SeriesInstanceUID
  FROM `{dataset}.dicom_all`, UNNEST(ImageType) AS image_type
  WHERE image_type = 'LOCALIZER' OR image_type LIKE '%MIP%'
),

-- One row per instance of CT Image Storage (1.2.840.10008.5.1.4.1.1.2), MR Image Storage (...1.4) and
-- Positron Emission Tomography Image Storage (...1.128): its position (IPP), orientation (IOP: row
-- direction cosines iop0..2, column direction cosines iop3..5), pixel spacing and matrix size.
-- Upstream collects IOP[0..2] and IOP[3..5] with UNNEST ... WITH OFFSET, which sqlglot mistranslates
-- (tests/test_transpile_traps.py); [SAFE_OFFSET(i)] reads the same values, and NULL where upstream's
-- [OFFSET(i)] on the shorter array would raise an error.
instanceGeometry AS (
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    SAFE_CAST(ImagePositionPatient[SAFE_OFFSET(0)] AS FLOAT64) AS ippX,
    SAFE_CAST(ImagePositionPatient[SAFE_OFFSET(1)] AS FLOAT64) AS ippY,
    SAFE_CAST(ImagePositionPatient[SAFE_OFFSET(2)] AS FLOAT64) AS ippZ,
    -- IOP and PixelSpacing as strings, compared for equality as upstream does
    ARRAY_TO_STRING(ImageOrientationPatient, '/') AS iop,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(0)] AS FLOAT64) AS iop0,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(1)] AS FLOAT64) AS iop1,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(2)] AS FLOAT64) AS iop2,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(3)] AS FLOAT64) AS iop3,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(4)] AS FLOAT64) AS iop4,
    SAFE_CAST(ImageOrientationPatient[SAFE_OFFSET(5)] AS FLOAT64) AS iop5,
    ARRAY_TO_STRING(PixelSpacing, '/') AS pixelSpacing,
    `Rows` AS pixelRows,
    `Columns` AS pixelColumns
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID IN ('1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.128')
    AND SeriesInstanceUID NOT IN (SELECT SeriesInstanceUID FROM localizerOrMipSeries)
),

-- The slice normal: cross product of the row and column direction cosines, (a,b,c) x (d,e,f) =
-- (bf - ce, cd - af, ae - bd); a unit vector when they are orthogonal unit vectors.
sliceNormal AS (
  SELECT
    *,
    iop1 * iop5 - iop2 * iop4 AS cpX,
    iop2 * iop3 - iop0 * iop5 AS cpY,
    iop0 * iop4 - iop1 * iop3 AS cpZ
  FROM instanceGeometry
),

-- Per instance: the length of the normal, the position along it (IPP . normal) and in plane (IPP .
-- row direction, IPP . column direction; the same for every slice of an aligned stack).
sliceProjection AS (
  SELECT
    *,
    SQRT(cpX * cpX + cpY * cpY + cpZ * cpZ) AS crossProductMagnitude,
    ippX * cpX + ippY * cpY + ippZ * cpZ AS slicePosition,
    ippX * iop0 + ippY * iop1 + ippZ * iop2 AS inPlaneRow,
    ippX * iop3 + ippY * iop4 + ippZ * iop5 AS inPlaneCol
  FROM sliceNormal
),

-- Per instance, as upstream: slice_interval, the distance to the next slice along the normal (NULL for
-- the last), and expected_spacing, the series' first-to-last span divided by (N - 1) (more stable than
-- any one pair; NULL for a single slice). Added: sliceOrder, the instance whose values stand for the
-- series where upstream takes ANY_VALUE (obliquity) or the first slice (origin, orientation): the
-- first slice along the normal, instances without a usable normal (NULL or zero length) last, ties
-- broken by SOPInstanceUID. For a regularly spaced volume it is upstream's first slice.
sliceOrder AS (
  SELECT
    *,
    LEAD(slicePosition) OVER (PARTITION BY SeriesInstanceUID ORDER BY slicePosition) - slicePosition AS slice_interval,
    SAFE_DIVIDE(
      MAX(slicePosition) OVER (PARTITION BY SeriesInstanceUID) - MIN(slicePosition) OVER (PARTITION BY SeriesInstanceUID),
      COUNT(*) OVER (PARTITION BY SeriesInstanceUID) - 1
    ) AS expected_spacing,
    ROW_NUMBER() OVER (
      PARTITION BY SeriesInstanceUID
      ORDER BY IFNULL(crossProductMagnitude, 0) = 0, slicePosition IS NULL, slicePosition, SOPInstanceUID
    ) AS sliceRank
  FROM sliceProjection
),

-- One row per series: upstream's checks (NULL where upstream's are NULL, e.g. uniform_slice_spacing of
-- a single slice) and the values of the instance ranked first.
geometryChecks AS (
  SELECT
    SeriesInstanceUID,
    COUNT(DISTINCT iop) = 1 AS single_orientation,
    COUNT(DISTINCT pixelSpacing) = 1 AS consistent_pixel_spacing,
    COUNT(DISTINCT SOPInstanceUID) = COUNT(DISTINCT slicePosition) AS unique_slice_positions,
    COUNT(DISTINCT pixelRows) = 1 AND COUNT(DISTINCT pixelColumns) = 1 AS consistent_image_dimensions,
    -- orientationTolerance = 0.01
    MIN(crossProductMagnitude) BETWEEN (1 - 0.01) AND (1 + 0.01)
      AND MAX(crossProductMagnitude) BETWEEN (1 - 0.01) AND (1 + 0.01) AS orthogonal_orientation,
    -- inPlaneTolerance = 0.1 (mm)
    MAX(inPlaneRow) - MIN(inPlaneRow) < 0.1 AS consistent_in_plane_row,
    MAX(inPlaneCol) - MIN(inPlaneCol) < 0.1 AS consistent_in_plane_col,
    -- relativeSliceTolerance = 0.01. expected_spacing is the same on every instance of a series, so
    -- MIN is the value upstream's ANY_VALUE(expected_spacing) returns. MAX skips the last slice's NULL.
    MAX(ABS(slice_interval - expected_spacing)) < 0.01 * ABS(MIN(expected_spacing)) AS uniform_slice_spacing,
    MIN(expected_spacing) AS sliceSpacing,
    -- Upstream takes ANY_VALUE of each normal component and of the magnitude separately; these take
    -- all four from the instance ranked first, a choice upstream's ANY_VALUEs can make.
    ANY_VALUE(cpX HAVING MIN sliceRank) AS normalX,
    ANY_VALUE(cpY HAVING MIN sliceRank) AS normalY,
    ANY_VALUE(cpZ HAVING MIN sliceRank) AS normalZ,
    ANY_VALUE(crossProductMagnitude HAVING MIN sliceRank) AS normalLength,
    -- Upstream: ARRAY_AGG(STRUCT(...) ORDER BY slicePosition LIMIT 1)[OFFSET(0)], which sqlglot cannot
    -- translate; origin and orientation come from the same instance, so they describe one real slice.
    ANY_VALUE(STRUCT(ippX, ippY, ippZ, iop0, iop1, iop2, iop3, iop4, iop5) HAVING MIN sliceRank) AS firstSlice
  FROM sliceOrder
  GROUP BY SeriesInstanceUID
),

-- The angle between the normal and the nearest patient axis: ACOS of the largest absolute component of
-- the unit normal, in degrees, rounded to 2 decimals. Upstream divides by the magnitude and takes ACOS
-- unguarded: BigQuery raises an error for a zero magnitude (degenerate orientation) or an argument
-- above 1, failing the whole job; SAFE_DIVIDE and IF give NULL here instead.
obliquity AS (
  SELECT
    *,
    SAFE_DIVIDE(GREATEST(ABS(normalX), ABS(normalY), ABS(normalZ)), normalLength) AS cosineToNearestAxis
  FROM geometryChecks
),

geometryFlags AS (
  SELECT
    *,
    ROUND(ACOS(IF(cosineToNearestAxis > 1, NULL, cosineToNearestAxis)) * 180 / ACOS(-1), 2) AS obliquity_degrees,
    -- three-valued, as upstream: NULL when a check is NULL and none is FALSE
    single_orientation AND orthogonal_orientation AND unique_slice_positions
      AND consistent_in_plane_row AND consistent_in_plane_col AND consistent_pixel_spacing
      AND consistent_image_dimensions AND uniform_slice_spacing AS regularly_spaced_3d_volume
  FROM obliquity
)

SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the series (joins with idc_index)
  SeriesInstanceUID,
  -- @column single_orientation: TRUE if all instances share the same ImageOrientationPatient (compared
  --   as text, value for value)
  single_orientation,
  -- @column orthogonal_orientation: TRUE if the cross product of the row and column direction cosines
  --   has unit length (within 0.01) for every instance, i.e. they are orthogonal unit vectors; NULL if
  --   no instance has six numeric orientation values
  orthogonal_orientation,
  -- @column unique_slice_positions: TRUE if every instance has a distinct position along the slice
  --   normal (no duplicate or overlapping slices)
  unique_slice_positions,
  -- @column consistent_in_plane_row: TRUE if ImagePositionPatient projected on the row direction varies
  --   by less than 0.1 mm over the instances (slices not shifted sideways)
  consistent_in_plane_row,
  -- @column consistent_in_plane_col: TRUE if ImagePositionPatient projected on the column direction
  --   varies by less than 0.1 mm over the instances
  consistent_in_plane_col,
  -- @column consistent_pixel_spacing: TRUE if all instances share the same PixelSpacing
  consistent_pixel_spacing,
  -- @column consistent_image_dimensions: TRUE if all instances share the same Rows and Columns
  consistent_image_dimensions,
  -- @column uniform_slice_spacing: TRUE if every distance between adjacent slices along the normal is
  --   within 1% of the expected spacing (first-to-last distance / (number of slices - 1)); NULL for a
  --   single slice
  uniform_slice_spacing,
  -- @column obliquity_degrees: angle in degrees (2 decimals) between the slice normal and the nearest
  --   patient axis (X, Y or Z) of the first slice along the normal: 0 for axial, sagittal or coronal
  --   slices, above 0 for oblique acquisitions or gantry tilt; NULL if the orientation gives no normal
  --   (missing values, all zeros or parallel row and column vectors)
  obliquity_degrees,
  -- @column regularly_spaced_3d_volume: TRUE if every check above passes: the series is a regularly
  --   spaced rectilinear volume that loads into a 3D array without resampling; NULL if a check is NULL
  --   (e.g. uniform_slice_spacing of a single slice) and none is FALSE
  regularly_spaced_3d_volume,
  -- Geometry values: NULL unless regularly_spaced_3d_volume, as upstream. With i the column index, j the
  -- row index and k the slice index (voxel centres at integer indices): column_i = IOP[0..2] *
  -- PixelSpacing_col_mm, column_j = IOP[3..5] * PixelSpacing_row_mm, column_k = (IOP[0..2] x IOP[3..5])
  -- * slice_spacing_mm, origin = origin_patient; k = 0 is the slice at the minimum position along the
  -- normal and k grows along +normal.
  -- @column origin_patient: ImagePositionPatient (x, y, z in mm) of the slice at the minimum position
  --   along the slice normal: the centre of voxel (0, 0, 0); empty unless regularly_spaced_3d_volume
  IF(regularly_spaced_3d_volume, [firstSlice.ippX, firstSlice.ippY, firstSlice.ippZ], NULL) AS origin_patient,
  -- @column ImageOrientationPatient: ImageOrientationPatient of that same slice: the direction cosines
  --   of increasing column index then of increasing row index; empty unless regularly_spaced_3d_volume
  IF(regularly_spaced_3d_volume,
     [firstSlice.iop0, firstSlice.iop1, firstSlice.iop2, firstSlice.iop3, firstSlice.iop4, firstSlice.iop5],
     NULL) AS ImageOrientationPatient,
  -- @column slice_spacing_mm: distance in mm between adjacent slice planes along the normal (first-to-last
  --   distance / (number of slices - 1)); not SliceThickness, which is the slab thickness; NULL unless
  --   regularly_spaced_3d_volume
  IF(regularly_spaced_3d_volume, sliceSpacing, NULL) AS slice_spacing_mm
FROM geometryFlags
