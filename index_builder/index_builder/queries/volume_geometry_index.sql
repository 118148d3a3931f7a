-- @table One row per single-frame CT, MR or PT series, with checks of whether its slices form a
-- regularly spaced 3D volume (one orientation, orthogonal axes, distinct and evenly spaced slice
-- positions, aligned in plane, same pixel spacing and size) and, for the series that pass every
-- check, what is needed to place the volume in patient coordinates (origin, orientation, spacing).
-- Tolerances: 1e-4 for direction cosines, 1e-3 mm for in-plane alignment, 1% of the spacing
-- between slices.
WITH inst AS (
  SELECT
    SeriesInstanceUID,
    SOPInstanceUID,
    ImagePositionPatient AS ipp,
    ImageOrientationPatient AS iop,
    PixelSpacing AS spacing,
    `Rows` AS n_rows,
    `Columns` AS n_cols
  FROM `{dataset}.dicom_all`
  WHERE SOPClassUID IN ('1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.128')
),
series AS (
  SELECT
    SeriesInstanceUID,
    COUNT(*) AS n,
    MAX(iop[SAFE_OFFSET(0)]) - MIN(iop[SAFE_OFFSET(0)]) <= 1e-4
      AND MAX(iop[SAFE_OFFSET(1)]) - MIN(iop[SAFE_OFFSET(1)]) <= 1e-4
      AND MAX(iop[SAFE_OFFSET(2)]) - MIN(iop[SAFE_OFFSET(2)]) <= 1e-4
      AND MAX(iop[SAFE_OFFSET(3)]) - MIN(iop[SAFE_OFFSET(3)]) <= 1e-4
      AND MAX(iop[SAFE_OFFSET(4)]) - MIN(iop[SAFE_OFFSET(4)]) <= 1e-4
      AND MAX(iop[SAFE_OFFSET(5)]) - MIN(iop[SAFE_OFFSET(5)]) <= 1e-4 AS single_orientation,
    MAX(spacing[SAFE_OFFSET(0)]) = MIN(spacing[SAFE_OFFSET(0)])
      AND MAX(spacing[SAFE_OFFSET(1)]) = MIN(spacing[SAFE_OFFSET(1)]) AS consistent_pixel_spacing,
    MAX(n_rows) = MIN(n_rows) AND MAX(n_cols) = MIN(n_cols) AS consistent_image_dimensions,
    AVG(iop[SAFE_OFFSET(0)]) AS rx, AVG(iop[SAFE_OFFSET(1)]) AS ry, AVG(iop[SAFE_OFFSET(2)]) AS rz,
    AVG(iop[SAFE_OFFSET(3)]) AS cx, AVG(iop[SAFE_OFFSET(4)]) AS cy, AVG(iop[SAFE_OFFSET(5)]) AS cz
  FROM inst
  GROUP BY SeriesInstanceUID
),
normals AS (
  SELECT
    *,
    ry * cz - rz * cy AS nx,
    rz * cx - rx * cz AS ny,
    rx * cy - ry * cx AS nz
  FROM series
),
projected AS (
  SELECT
    i.SeriesInstanceUID,
    i.ipp,
    i.iop,
    i.ipp[SAFE_OFFSET(0)] * n.nx + i.ipp[SAFE_OFFSET(1)] * n.ny + i.ipp[SAFE_OFFSET(2)] * n.nz AS pos,
    i.ipp[SAFE_OFFSET(0)] * n.rx + i.ipp[SAFE_OFFSET(1)] * n.ry + i.ipp[SAFE_OFFSET(2)] * n.rz AS row_pos,
    i.ipp[SAFE_OFFSET(0)] * n.cx + i.ipp[SAFE_OFFSET(1)] * n.cy + i.ipp[SAFE_OFFSET(2)] * n.cz AS col_pos,
    ROW_NUMBER() OVER (PARTITION BY i.SeriesInstanceUID ORDER BY
      i.ipp[SAFE_OFFSET(0)] * n.nx + i.ipp[SAFE_OFFSET(1)] * n.ny + i.ipp[SAFE_OFFSET(2)] * n.nz, i.SOPInstanceUID) AS k
  FROM inst AS i
  JOIN normals AS n
    ON i.SeriesInstanceUID = n.SeriesInstanceUID
),
gaps AS (
  SELECT
    *,
    pos - LAG(pos) OVER (PARTITION BY SeriesInstanceUID ORDER BY k) AS gap
  FROM projected
),
slices AS (
  SELECT
    SeriesInstanceUID,
    COUNT(DISTINCT ROUND(pos, 3)) = COUNT(*) AS unique_slice_positions,
    MAX(row_pos) - MIN(row_pos) <= 1e-3 AS consistent_in_plane_row,
    MAX(col_pos) - MIN(col_pos) <= 1e-3 AS consistent_in_plane_col,
    MIN(gap) AS min_gap,
    MAX(gap) AS max_gap,
    (MAX(pos) - MIN(pos)) / NULLIF(COUNT(*) - 1, 0) AS mean_gap,
    MAX(IF(k = 1, ipp[SAFE_OFFSET(0)], NULL)) AS ox,
    MAX(IF(k = 1, ipp[SAFE_OFFSET(1)], NULL)) AS oy,
    MAX(IF(k = 1, ipp[SAFE_OFFSET(2)], NULL)) AS oz
  FROM gaps
  GROUP BY SeriesInstanceUID
),
checks AS (
  SELECT
    n.SeriesInstanceUID,
    n.single_orientation,
    ABS(SQRT(n.nx * n.nx + n.ny * n.ny + n.nz * n.nz) - 1) <= 1e-4 AS orthogonal_orientation,
    s.unique_slice_positions,
    s.consistent_in_plane_row,
    s.consistent_in_plane_col,
    n.consistent_pixel_spacing,
    n.consistent_image_dimensions,
    COALESCE(s.max_gap - s.min_gap <= 0.01 * s.mean_gap, FALSE) AS uniform_slice_spacing,
    ACOS(LEAST(1.0, GREATEST(ABS(n.nx), ABS(n.ny), ABS(n.nz)) / SQRT(n.nx * n.nx + n.ny * n.ny + n.nz * n.nz))) * 180 / ACOS(-1) AS obliquity_degrees,
    n.rx, n.ry, n.rz, n.cx, n.cy, n.cz,
    s.ox, s.oy, s.oz,
    s.mean_gap
  FROM normals AS n
  JOIN slices AS s
    ON n.SeriesInstanceUID = s.SeriesInstanceUID
),
verdicts AS (
  SELECT
    *,
    COALESCE(single_orientation AND orthogonal_orientation AND unique_slice_positions
      AND consistent_in_plane_row AND consistent_in_plane_col AND consistent_pixel_spacing
      AND consistent_image_dimensions AND uniform_slice_spacing, FALSE) AS regular
  FROM checks
)
SELECT
  -- @column SeriesInstanceUID: DICOM SeriesInstanceUID of the series (joins with idc_index)
  SeriesInstanceUID,
  -- @column single_orientation: TRUE if all instances share one ImageOrientationPatient (within 1e-4)
  single_orientation,
  -- @column orthogonal_orientation: TRUE if the row and column direction cosines are orthogonal unit
  --   vectors (their cross product has length 1 within 1e-4)
  orthogonal_orientation,
  -- @column unique_slice_positions: TRUE if no two instances share a position along the slice normal
  unique_slice_positions,
  -- @column consistent_in_plane_row: TRUE if ImagePositionPatient projected on the row direction is
  --   the same for all instances (within 1e-3 mm)
  consistent_in_plane_row,
  -- @column consistent_in_plane_col: TRUE if ImagePositionPatient projected on the column direction
  --   is the same for all instances (within 1e-3 mm)
  consistent_in_plane_col,
  -- @column consistent_pixel_spacing: TRUE if all instances share one PixelSpacing
  consistent_pixel_spacing,
  -- @column consistent_image_dimensions: TRUE if all instances share Rows and Columns
  consistent_image_dimensions,
  -- @column uniform_slice_spacing: TRUE if consecutive slices are equally spaced (within 1% of the
  --   spacing); FALSE for a single slice
  uniform_slice_spacing,
  -- @column obliquity_degrees: angle in degrees between the slice normal and the nearest patient axis
  --   (0 for axial, sagittal or coronal slices)
  obliquity_degrees,
  -- @column regularly_spaced_3d_volume: TRUE if every check above passes: the series is a regularly
  --   spaced rectilinear volume
  regular AS regularly_spaced_3d_volume,
  -- @column origin_patient: ImagePositionPatient (x, y, z in mm) of the first slice along the normal:
  --   the origin of the volume; empty unless regularly_spaced_3d_volume
  IF(regular, [ox, oy, oz], NULL) AS origin_patient,
  -- @column ImageOrientationPatient: the six direction cosines of the rows then the columns; empty
  --   unless regularly_spaced_3d_volume
  IF(regular, [rx, ry, rz, cx, cy, cz], NULL) AS ImageOrientationPatient,
  -- @column slice_spacing_mm: distance in mm between adjacent slices along the normal; NULL unless
  --   regularly_spaced_3d_volume
  IF(regular, mean_gap, NULL) AS slice_spacing_mm
FROM verdicts
