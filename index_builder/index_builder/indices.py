"""The indices a release holds: declared arrow schema, sort order and bloom-filtered columns.

Column names and types follow the files that idc-index-data 25.0.5 published (pandas wrote those, so
top-level strings are ``large_string``; strings nested in lists and structs are ``string``). Column
descriptions are not here: they live next to each column in ``queries/<index>.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

S = pa.large_string()  # top-level string column
I = pa.int64()
F = pa.float64()
B = pa.bool_()


def strings() -> pa.DataType:
    """A repeated STRING column (BigQuery ``ARRAY<STRING>``)."""
    return pa.list_(pa.field("element", pa.string()))


def floats() -> pa.DataType:
    """A repeated FLOAT64 column (BigQuery ``ARRAY<FLOAT64>``)."""
    return pa.list_(pa.field("element", pa.float64()))


def struct(**children: pa.DataType) -> pa.DataType:
    return pa.struct([pa.field(name, typ) for name, typ in children.items()])


def list_of(item: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("element", item))


def schema(**columns: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field(name, typ) for name, typ in columns.items()])


_s = pa.string()

IDC_INDEX = schema(
    collection_id=S, analysis_result_id=S, PatientID=S, SeriesInstanceUID=S, StudyInstanceUID=S,
    source_DOI=S, PatientAge=S, PatientSex=S, StudyDate=S, StudyDescription=S, BodyPartExamined=S,
    Modality=S, SOPClassUID=S, sop_class_name=S, TransferSyntaxUID=S, transfer_syntax_name=S,
    PhotometricInterpretation=S, PixelRepresentation=S, Manufacturer=S, ManufacturerModelName=S,
    SeriesDate=S, SeriesDescription=S, SeriesNumber=S, instanceCount=I, license_short_name=S,
    series_init_idc_version=I, series_revised_idc_version=I, aws_bucket=S, crdc_series_uuid=S,
    series_aws_url=S, series_size_MB=F,
)

PRIOR_VERSIONS_INDEX = schema(
    collection_id=S, PatientID=S, SeriesInstanceUID=S, StudyInstanceUID=S, Modality=S, gcs_bucket=S,
    crdc_series_uuid=S, series_size_MB=F, series_aws_url=S, aws_bucket=S, min_idc_version=I,
    max_idc_version=I,
)

_PROVENANCE = struct(
    data_contributor=_s, source_data_provider=_s, deidentification_party=_s, dicom_conversion_by=_s
)

COLLECTIONS_INDEX = schema(
    collection_name=S, collection_id=S, cancer_types=S, tumor_locations=S, subjects=I, species=S,
    sources=list_of(struct(
        source_id=_s, source_title=_s, source_type=_s, source_doi=_s, source_url=_s, modalities=_s,
        license=struct(license_url=_s, license_long_name=_s, license_short_name=_s),
        citation=_s, provenance=_PROVENANCE, Access=_s, ImageTypes=_s,
    )),
    supporting_data=S, program_id=S, status=S, updated=S, description=S,
)

ANALYSIS_RESULTS_INDEX = schema(
    analysis_result_id=S, analysis_result_title=S, source_DOI=S, source_url=S, subjects=I,
    collections=S, modalities=S, updated=S, license_url=S, license_long_name=S,
    license_short_name=S, description=S, citation=S, provenance=_PROVENANCE,
)

VERSION_METADATA_INDEX = schema(idc_version=I, version_timestamp=S)

CLINICAL_INDEX = schema(
    collection_id=S, table_name=S, short_table_name=S, column=S, column_label=S,
    values=list_of(struct(option_code=_s, option_description=_s)),
)

_CODED = dict(
    embeddingMedium_CodeMeaning=strings(), embeddingMedium_code_designator_value_str=strings(),
    tissueFixative_CodeMeaning=strings(), tissueFixative_code_designator_value_str=strings(),
    staining_usingSubstance_CodeMeaning=strings(),
    staining_usingSubstance_code_designator_value_str=strings(),
)

SM_INDEX = schema(
    SeriesInstanceUID=S, ContainerIdentifier=S, **_CODED,
    min_PixelSpacing_2sf=F, max_TotalPixelMatrixColumns=I, max_TotalPixelMatrixRows=I,
    ObjectiveLensPower=I,
    primaryAnatomicStructure_code_designator_value_str=S, primaryAnatomicStructure_CodeMeaning=S,
    primaryAnatomicStructureModifier_code_designator_value_str=S,
    primaryAnatomicStructureModifier_CodeMeaning=S,
    illuminationType_code_designator_value_str=S, illuminationType_CodeMeaning=S,
    admittingDiagnosis_code_designator_value_str=S, admittingDiagnosis_CodeMeaning=S,
)

# idc-index-data 25.0.5's columns first, in its order (code may select them by position); the
# columns this builder adds (slide and specimen, anatomy, optical paths, tile size, pyramid) after.
SM_INSTANCE_INDEX = schema(
    SOPInstanceUID=S, SeriesInstanceUID=S, **_CODED,
    PixelSpacing_0=F, ImageType=strings(), TransferSyntaxUID=S, instance_size=I,
    TotalPixelMatrixColumns=I, TotalPixelMatrixRows=I, crdc_instance_uuid=S,
    ContainerIdentifier=S, SpecimenUID=S, SpecimenIdentifier=S,
    primaryAnatomicStructure_CodingSchemeDesignator=S, primaryAnatomicStructure_CodeValue=S,
    primaryAnatomicStructure_CodeMeaning=S,
    primaryAnatomicStructureModifier_CodingSchemeDesignator=S,
    primaryAnatomicStructureModifier_CodeValue=S, primaryAnatomicStructureModifier_CodeMeaning=S,
    optical_paths=list_of(struct(
        OpticalPathIdentifier=_s, illuminationType_code_designator_value_str=_s,
        illuminationType_CodeMeaning=_s, illuminationColor_code_designator_value_str=_s,
        illuminationColor_CodeMeaning=_s, IlluminationWaveLength=pa.float64(),
        ObjectiveLensPower=pa.float64(),
    )),
    PixelSpacing_1=F, Rows=I, Columns=I, PyramidUID=S, PyramidLabel=S,
)

SEG_INDEX = schema(
    SeriesInstanceUID=S, SegmentationType=S, total_segments=I, AlgorithmType=S, AlgorithmName=S,
    segmented_SeriesInstanceUID=S, SegmentedPropertyCategory_CodeMeanings=strings(),
    SegmentedPropertyType_CodeMeanings=strings(), AnatomicRegion_CodeMeanings=strings(),
)

RTSTRUCT_INDEX = schema(
    SeriesInstanceUID=S, total_rois=I, ROINames=strings(), ROIGenerationAlgorithms=strings(),
    RTROIInterpretedTypes=strings(), referenced_SeriesInstanceUID=S,
)

ANN_INDEX = schema(SeriesInstanceUID=S, AnnotationCoordinateType=S, referenced_SeriesInstanceUID=S)

ANN_GROUP_INDEX = schema(
    SeriesInstanceUID=S, AnnotationGroupNumber=I, AnnotationGroupUID=S, AnnotationGroupLabel=S,
    AnnotationGroupGenerationType=S, NumberOfAnnotations=I, GraphicType=S,
    AnnotationPropertyCategory_code=S, AnnotationPropertyCategory_CodeMeaning=S,
    AnnotationPropertyType_code=S, AnnotationPropertyType_CodeMeaning=S, AlgorithmName=S,
)

CONTRAST_INDEX = schema(
    SeriesInstanceUID=S, ContrastBolusAgent=strings(), ContrastBolusIngredient=strings(),
    ContrastBolusRoute=strings(),
)

CT_INDEX = schema(
    SeriesInstanceUID=S, ImageType=strings(), PixelSpacing_row_mm=F, PixelSpacing_col_mm=F, Rows=I,
    Columns=I, SliceThickness=F, KVP=F, ScanOptions=strings(), ConvolutionKernel=strings(),
    GantryDetectorTilt=F, XRayTubeCurrent_min=F, XRayTubeCurrent_max=F, FilterType=S,
    Exposure_min=F, Exposure_max=F, ExposureTime_min=F, ExposureTime_max=F,
    DataCollectionDiameter=F, ReconstructionDiameter=F, SpiralPitchFactor=F,
)

MR_INDEX = schema(
    SeriesInstanceUID=S, MagneticFieldStrength=F, ScanningSequence=strings(),
    SequenceVariant=strings(), MRAcquisitionType=S, EchoTime=floats(), RepetitionTime=F,
    EchoTrainLength=I, FlipAngle=F, PixelBandwidth=F, ImagingFrequency=F, ImagedNucleus=S,
    PixelSpacing_row_mm=F, PixelSpacing_col_mm=F, Rows=I, Columns=I, SliceThickness=F,
    InversionTime=F, ReceiveCoilName=S, SequenceName=S, DiffusionBValue=floats(),
    NumberOfTemporalPositions=I,
)

PT_INDEX = schema(
    SeriesInstanceUID=S, SeriesType=S, Units=S, DecayCorrection=S, CorrectedImage=strings(),
    RandomsCorrectionMethod=S, ReconstructionMethod=S, ActualFrameDuration=floats(),
    ScatterCorrectionMethod=S, AttenuationCorrectionMethod=S, RadionuclideCodeMeaning=S,
    RadionuclideTotalDose=F, RadiopharmaceuticalStartTime=S, Radiopharmaceutical=S,
    PixelSpacing_row_mm=F, PixelSpacing_col_mm=F, Rows=I, Columns=I, SliceThickness=F,
    NumberOfSlices=I, NumberOfTimeSlices=I,
)

VOLUME_GEOMETRY_INDEX = schema(
    SeriesInstanceUID=S, single_orientation=B, orthogonal_orientation=B, unique_slice_positions=B,
    consistent_in_plane_row=B, consistent_in_plane_col=B, consistent_pixel_spacing=B,
    consistent_image_dimensions=B, uniform_slice_spacing=B, obliquity_degrees=F,
    regularly_spaced_3d_volume=B, origin_patient=floats(), ImageOrientationPatient=floats(),
    slice_spacing_mm=F,
)

# The client looks rows up by collection, then patient, study and series: files are sorted that way.
HIERARCHY = ("collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID")


@dataclass(frozen=True)
class IndexSpec:
    name: str
    schema: pa.Schema
    #: rows per parquet row group; small enough that min/max statistics prune lookups
    row_group_size: int = 16384
    #: extra sort keys after the collection/patient/study/series hierarchy
    extra_sort: tuple[str, ...] = ()
    sort_keys: tuple[str, ...] = field(init=False)
    bloom_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = self.schema.names
        keys = tuple(c for c in HIERARCHY if c in names) + tuple(self.extra_sort)
        object.__setattr__(self, "sort_keys", keys)
        blooms = tuple(
            f.name for f in self.schema
            if pa.types.is_large_string(f.type) and (f.name.endswith("UID") or f.name.endswith("_uuid"))
        )
        object.__setattr__(self, "bloom_columns", blooms)

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"


INDICES: dict[str, IndexSpec] = {
    spec.name: spec
    for spec in [
        IndexSpec("idc_index", IDC_INDEX, row_group_size=16384),
        IndexSpec("prior_versions_index", PRIOR_VERSIONS_INDEX, extra_sort=("min_idc_version", "crdc_series_uuid")),
        IndexSpec("collections_index", COLLECTIONS_INDEX),
        IndexSpec("analysis_results_index", ANALYSIS_RESULTS_INDEX, extra_sort=("analysis_result_id",)),
        IndexSpec("version_metadata_index", VERSION_METADATA_INDEX, extra_sort=("idc_version",)),
        IndexSpec("clinical_index", CLINICAL_INDEX, extra_sort=("table_name", "column")),
        IndexSpec("sm_index", SM_INDEX),
        IndexSpec("sm_instance_index", SM_INSTANCE_INDEX, extra_sort=("SOPInstanceUID",)),
        IndexSpec("seg_index", SEG_INDEX),
        IndexSpec("rtstruct_index", RTSTRUCT_INDEX),
        IndexSpec("ann_index", ANN_INDEX),
        IndexSpec("ann_group_index", ANN_GROUP_INDEX, extra_sort=("AnnotationGroupNumber",)),
        IndexSpec("contrast_index", CONTRAST_INDEX),
        IndexSpec("ct_index", CT_INDEX),
        IndexSpec("mr_index", MR_INDEX),
        IndexSpec("pt_index", PT_INDEX),
        IndexSpec("volume_geometry_index", VOLUME_GEOMETRY_INDEX),
    ]
}
