"""A small synthetic copy of IDC's BigQuery tables, as parquet, for offline builds and tests.

Only the columns the queries (ours and idc-index-data's) read, typed as IDC's DICOM export types
them, so that an offline build fails where BigQuery would:

* the value representations: DA as DATE, TM as TIME, DT as TIMESTAMP, FL and FD as FLOAT64, US,
  UL and SL as INT64, the text VRs as STRING, and the decimal and integer strings (DS, IS) as
  STRING too: idc-index-data publishes SeriesNumber (an IS it passes through untouched) as a
  string, and its SQL SAFE_CASTs every DS and IS it reads as a number (and no FL or FD);
  version_metadata.version_timestamp is a STRING as well;
* an attribute whose multiplicity can exceed 1 (ImageType, PixelSpacing, SeriesType, ...) is a
  repeated field, a sequence (SQ) a repeated record;
* a repeated field is never NULL: a missing one is ``[]``, at every depth (:func:`as_exported`).

Content is deterministic. The layout the DuckDB backend reads::

    DIR/dicom_all.parquet, dicom_metadata.parquet, dicom_metadata_curated.parquet, auxiliary_metadata.parquet,
        original_collections_metadata.parquet, analysis_results_metadata.parquet,
        version_metadata.parquet                        release N (``idc_vN`` and ``idc_current``)
    DIR/clinical/column_metadata.parquet                ``idc_vN_clinical``
    DIR/idc_v23/dicom_all.parquet, DIR/idc_v24/...      earlier releases (prior_versions_index)
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

IDC_VERSION = 25
PRIOR = (23, 24)

s, i64, f64 = pa.string(), pa.int64(), pa.float64()
# DICOM's decimal and integer strings (DS, IS): STRING in IDC's export, whose SQL casts them
DS = IS = s
CODE = pa.struct([("CodeValue", s), ("CodingSchemeDesignator", s), ("CodeMeaning", s)])


def L(t: pa.DataType) -> pa.DataType:
    return pa.list_(t)


def ST(**kw: pa.DataType) -> pa.DataType:
    return pa.struct(list(kw.items()))


DICOM_ALL = pa.schema([
    ("collection_id", s), ("analysis_result_id", s), ("source_DOI", s), ("license_short_name", s),
    ("PatientID", s), ("PatientAge", s), ("PatientSex", s),
    ("StudyInstanceUID", s), ("StudyDate", pa.date32()), ("StudyDescription", s),
    ("SeriesInstanceUID", s), ("SeriesDate", pa.date32()), ("SeriesDescription", s), ("SeriesNumber", s),
    ("SOPInstanceUID", s), ("SOPClassUID", s), ("Modality", s), ("TransferSyntaxUID", s),
    ("PhotometricInterpretation", s), ("PixelRepresentation", i64),
    ("Manufacturer", s), ("ManufacturerModelName", s),
    ("gcs_url", s), ("aws_bucket", s), ("series_aws_url", s), ("crdc_series_uuid", s),
    ("crdc_instance_uuid", s), ("instance_size", i64),
    ("ImageType", L(s)), ("PixelSpacing", L(DS)), ("Rows", i64), ("Columns", i64), ("SliceThickness", DS),
    ("ImagePositionPatient", L(DS)), ("ImageOrientationPatient", L(DS)),
    ("KVP", DS), ("ScanOptions", L(s)), ("ConvolutionKernel", L(s)), ("GantryDetectorTilt", DS),
    ("XRayTubeCurrent", IS), ("Exposure", IS), ("ExposureTime", IS), ("FilterType", s),
    ("DataCollectionDiameter", DS), ("ReconstructionDiameter", DS), ("SpiralPitchFactor", f64),
    ("MagneticFieldStrength", DS), ("ScanningSequence", L(s)), ("SequenceVariant", L(s)),
    ("MRAcquisitionType", s), ("EchoTime", DS), ("RepetitionTime", DS), ("EchoTrainLength", IS),
    ("FlipAngle", DS), ("PixelBandwidth", DS), ("ImagingFrequency", DS), ("ImagedNucleus", s),
    ("InversionTime", DS), ("ReceiveCoilName", s), ("SequenceName", s), ("DiffusionBValue", f64),
    ("NumberOfTemporalPositions", IS),
    ("SeriesType", L(s)), ("Units", s), ("DecayCorrection", s), ("CorrectedImage", L(s)),
    ("RandomsCorrectionMethod", s), ("ReconstructionMethod", s), ("ActualFrameDuration", IS),
    ("ScatterCorrectionMethod", s), ("AttenuationCorrectionMethod", s), ("NumberOfSlices", i64),
    ("NumberOfTimeSlices", i64),
    ("RadiopharmaceuticalInformationSequence", L(ST(
        Radiopharmaceutical=s, RadiopharmaceuticalStartTime=pa.time64("us"), RadionuclideTotalDose=DS,
        RadionuclideCodeSequence=L(CODE)))),
    ("ContrastBolusAgent", s), ("ContrastBolusIngredient", s), ("ContrastBolusRoute", s),
    ("ContainerIdentifier", s), ("TotalPixelMatrixRows", i64), ("TotalPixelMatrixColumns", i64),
    ("PyramidUID", s), ("PyramidLabel", s),
    ("SharedFunctionalGroupsSequence", L(ST(PixelMeasuresSequence=L(ST(PixelSpacing=L(DS), SliceThickness=DS))))),
    ("SpecimenDescriptionSequence", L(ST(
        SpecimenUID=s, SpecimenIdentifier=s,
        SpecimenPreparationSequence=L(ST(SpecimenPreparationStepContentItemSequence=L(ST(
            ValueType=s, ConceptNameCodeSequence=L(CODE), ConceptCodeSequence=L(CODE), TextValue=s)))),
        PrimaryAnatomicStructureSequence=L(ST(
            CodeValue=s, CodingSchemeDesignator=s, CodeMeaning=s,
            PrimaryAnatomicStructureModifierSequence=L(CODE)))))),
    ("OpticalPathSequence", L(ST(
        OpticalPathIdentifier=s, ObjectiveLensPower=DS, IlluminationWaveLength=f64,
        IlluminationTypeCodeSequence=L(CODE), IlluminationColorCodeSequence=L(CODE)))),
    ("AdmittingDiagnosesCodeSequence", L(CODE)),
    ("SegmentationType", s),
    ("SegmentSequence", L(ST(
        SegmentNumber=i64, SegmentLabel=s, SegmentAlgorithmType=s, SegmentAlgorithmName=L(s),
        SegmentedPropertyCategoryCodeSequence=L(CODE), SegmentedPropertyTypeCodeSequence=L(CODE),
        AnatomicRegionSequence=L(ST(CodeValue=s, CodingSchemeDesignator=s, CodeMeaning=s,
                                    AnatomicRegionModifierSequence=L(CODE))),
        TrackingID=s, TrackingUID=s))),
    ("FrameOfReferenceUID", s),
    ("ReferencedSeriesSequence", L(ST(SeriesInstanceUID=s, ReferencedInstanceSequence=L(ST(ReferencedSOPInstanceUID=s))))),
    ("ReferencedImageSequence", L(ST(ReferencedSOPClassUID=s, ReferencedSOPInstanceUID=s))),
    ("SourceImageSequence", L(ST(ReferencedSOPClassUID=s, ReferencedSOPInstanceUID=s))),
    ("StructureSetROISequence", L(ST(ROINumber=IS, ROIName=s, ROIGenerationAlgorithm=s))),
    ("RTROIObservationsSequence", L(ST(ReferencedROINumber=IS, RTROIInterpretedType=s))),
    ("ReferencedFrameOfReferenceSequence", L(ST(
        FrameOfReferenceUID=s,
        RTReferencedStudySequence=L(ST(ReferencedSOPInstanceUID=s, RTReferencedSeriesSequence=L(ST(SeriesInstanceUID=s))))))),
    ("AnnotationCoordinateType", s),
    ("AnnotationGroupSequence", L(ST(
        AnnotationGroupNumber=i64, AnnotationGroupUID=s, AnnotationGroupLabel=s,
        AnnotationGroupGenerationType=s, NumberOfAnnotations=i64, GraphicType=s,
        AnnotationPropertyCategoryCodeSequence=L(CODE), AnnotationPropertyTypeCodeSequence=L(CODE),
        AnnotationGroupAlgorithmIdentificationSequence=L(ST(AlgorithmName=s, AlgorithmVersion=s))))),
])

# The columns IDC adds to the DICOM attributes in dicom_all; dicom_metadata (the DICOM store's own
# export, which upstream's seg_index reads) has the others.
IDC_COLUMNS = ("collection_id", "analysis_result_id", "source_DOI", "license_short_name", "gcs_url", "aws_bucket",
               "series_aws_url", "crdc_series_uuid", "crdc_instance_uuid", "instance_size")
DICOM_METADATA = pa.schema([f for f in DICOM_ALL if f.name not in IDC_COLUMNS])

PRIOR_DICOM_ALL = pa.schema([DICOM_ALL.field(n) for n in (
    "collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality",
    "gcs_url", "crdc_series_uuid", "instance_size")])

SOP = {
    "CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
    "PT": "1.2.840.10008.5.1.4.1.1.128", "SEG": "1.2.840.10008.5.1.4.1.1.66.4",
    "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3", "SR": "1.2.840.10008.5.1.4.1.1.88.34",
    "SM": "1.2.840.10008.5.1.4.1.1.77.1.6", "ANN": "1.2.840.10008.5.1.4.1.1.91.1",
}
EXPLICIT, IMPLICIT, JPEG, J2K = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.91"
GCS_TO_AWS = {"idc-open-data": "idc-open-data", "idc-open-cr": "idc-open-data-cr", "idc-open-idc1": "idc-open-data-two"}

# values the tests check by hand
CT_SERIES = "1.2.826.0.1.3680043.8.498.1.1.1.1"  # lung_ct_demo, LCT-001, first CT: 8 slices of 524288 bytes
REVISED_SERIES = "1.2.826.0.1.3680043.8.498.1.1.1.2"  # revised in v25; v23..v24 served an older version
REMOVED_SERIES = "1.2.826.0.1.3680043.8.498.9.9.9.9"  # served by v23 and v24 only


def code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "idc-fixture/" + "/".join(map(str, parts))))


class _Gen:
    def __init__(self) -> None:
        self.instances: list[dict[str, Any]] = []
        self.aux: list[dict[str, Any]] = []
        self.curated: list[dict[str, Any]] = []
        self.series_versions: dict[str, tuple[int, int]] = {}

    def series(self, coll: dict[str, Any], patient: str, study: str, series_uid: str, modality: str, n: int,
               init: int = 20, revised: int = 22, per_instance: Any = None, **common: Any) -> list[dict[str, Any]]:
        gcs = coll.get("gcs_bucket", "idc-open-data")
        aws = GCS_TO_AWS[gcs]
        s_uuid = _uuid(series_uid, revised)
        rows = []
        for k in range(n):
            sop_uid = f"{series_uid}.{k + 1}"
            i_uuid = _uuid(sop_uid, revised)
            row = {
                "collection_id": coll["id"], "analysis_result_id": None,
                "source_DOI": coll["doi"], "license_short_name": "CC BY 4.0",
                "PatientID": patient, "PatientAge": coll.get("age", "061Y"), "PatientSex": coll.get("sex", "F"),
                "StudyInstanceUID": study, "StudyDate": dt.date(2001, 3, 4), "StudyDescription": f"{modality} study",
                "SeriesInstanceUID": series_uid, "SeriesDate": dt.date(2001, 3, 4),
                "SeriesDescription": f"{modality} series", "SeriesNumber": str(len(self.series_versions) + 1),
                "SOPInstanceUID": sop_uid, "SOPClassUID": SOP[modality if modality in SOP else "CT"],
                "Modality": "SM" if modality == "SM" else ("ANN" if modality == "ANN" else modality),
                "TransferSyntaxUID": EXPLICIT, "Manufacturer": "ACME", "ManufacturerModelName": f"{modality}-3000",
                "gcs_url": f"gs://{gcs}/{s_uuid}/{i_uuid}.dcm", "aws_bucket": aws,
                "series_aws_url": f"s3://{aws}/{s_uuid}/", "crdc_series_uuid": s_uuid, "crdc_instance_uuid": i_uuid,
                "instance_size": 524288,
            }
            row.update(common)
            if per_instance:
                row.update(per_instance(k))
            rows.append(row)
            self.aux.append({"SeriesInstanceUID": series_uid, "SOPInstanceUID": sop_uid,
                             "series_init_idc_version": init, "series_revised_idc_version": revised,
                             "instance_revised_idc_version": revised})
            self.curated.append({"SOPInstanceUID": sop_uid, "SeriesInstanceUID": series_uid,
                                 "BodyPartExamined": coll.get("body_part") if modality in ("CT", "MR", "PT") else None})
        self.series_versions[series_uid] = (init, revised)
        self.instances.extend(rows)
        return rows


def _uid(*nums: int) -> str:
    return "1.2.826.0.1.3680043.8.498." + ".".join(str(n) for n in nums)


def _ct_slice(z0: float, dz: float, spacing: float = 0.7, oblique: bool = False):
    iop = [1.0, 0.0, 0.0, 0.0, 0.8660254, -0.5] if oblique else [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]

    def per(k: int) -> dict[str, Any]:
        return {"ImagePositionPatient": [-170.0, -170.0, z0 + k * dz], "ImageOrientationPatient": iop,
                "PixelSpacing": [spacing, spacing], "Rows": 512, "Columns": 512,
                "XRayTubeCurrent": 200 + 10 * k, "Exposure": 100 + k, "ExposureTime": 500}
    return per


def _disagreeing(per: Any) -> Any:
    """Instances of one series that disagree on series-level attributes (as real data sometimes does),
    and lack one: which value a series-level column takes must not depend on the order rows are read."""
    def per_disagreeing(k: int) -> dict[str, Any]:
        row = per(k)
        row["ManufacturerModelName"] = [None, "CT-3000 v2", "CT-2000"][k] if k < 3 else "CT-3000"
        row["KVP"] = [None, 140.0, 100.0][k] if k < 3 else 120.0
        return row
    return per_disagreeing


def generate() -> dict[str, Any]:
    g = _Gen()
    lung = {"id": "lung_ct_demo", "doi": "10.0000/demo.lung", "body_part": "CHEST"}
    pros = {"id": "prostate_mr_demo", "doi": "10.0000/demo.prostate", "body_part": "PROSTATE", "sex": "M", "age": "068Y", "gcs_bucket": "idc-open-cr"}
    pet = {"id": "petct_demo", "doi": "10.0000/demo.petct", "body_part": "WHOLEBODY", "gcs_bucket": "idc-open-idc1"}
    path = {"id": "breast_sm_demo", "doi": "10.0000/demo.breast", "body_part": None}

    ct_common = dict(ImageType=["ORIGINAL", "PRIMARY", "AXIAL"], KVP=120.0, ScanOptions=["HELICAL MODE"],
                     ConvolutionKernel=["STANDARD"], GantryDetectorTilt=0.0, FilterType="BODY FILTER",
                     DataCollectionDiameter=500.0, ReconstructionDiameter=360.0, SpiralPitchFactor=0.984,
                     SliceThickness=2.5, PhotometricInterpretation="MONOCHROME2", PixelRepresentation=1)
    # lung_ct_demo: 3 patients; CT, SEG and RTSTRUCT (an analysis result), SR
    for p in range(1, 4):
        patient, study = f"LCT-00{p}", _uid(1, p, 1)
        ct1 = g.series(lung, patient, study, _uid(1, p, 1, 1), "CT", 8,
                       per_instance=_disagreeing(_ct_slice(-100.0, 2.5)) if p == 1 else _ct_slice(-100.0, 2.5), **ct_common)
        g.series(lung, patient, study, _uid(1, p, 1, 2), "CT", 6, init=23, revised=25 if p == 1 else 24,
                 per_instance=_ct_slice(0.0, 5.0 if p != 2 else 0.0, oblique=(p == 3)),
                 ContrastBolusAgent="Omnipaque" if p == 1 else None, ContrastBolusRoute="IV" if p == 1 else None,
                 **ct_common)
        # the SEG references the first CT slice: LCT-001 in ReferencedSeriesSequence, LCT-002 only in
        # ReferencedImageSequence, LCT-003 only in SourceImageSequence (seg_index resolves each to its series)
        first = [{"ReferencedSOPClassUID": SOP["CT"], "ReferencedSOPInstanceUID": ct1[0]["SOPInstanceUID"]}]
        refs = [dict(ReferencedSeriesSequence=[{"SeriesInstanceUID": ct1[0]["SeriesInstanceUID"], "ReferencedInstanceSequence": [
                    {"ReferencedSOPInstanceUID": ct1[0]["SOPInstanceUID"]}]}]),
                dict(ReferencedImageSequence=first), dict(SourceImageSequence=first)][p - 1]
        segs = [{"SegmentNumber": n, "SegmentLabel": lab, "SegmentAlgorithmType": "AUTOMATIC",
                 "SegmentAlgorithmName": ["TotalSegmentator"],
                 "SegmentedPropertyCategoryCodeSequence": [code("123037004", "SCT", "Anatomical Structure")],
                 "SegmentedPropertyTypeCodeSequence": [code(cv, "SCT", lab)],
                 "AnatomicRegionSequence": []}
                for n, (lab, cv) in enumerate([("Lung", "39607008"), ("Heart", "80891009")], 1)]
        g.series(lung, patient, study, _uid(1, p, 1, 3), "SEG", 1, init=24, revised=24,
                 analysis_result_id="lung_seg_demo", SegmentationType="BINARY", SegmentSequence=segs, **refs)
        g.series(lung, patient, study, _uid(1, p, 1, 4), "RTSTRUCT", 1, init=24, revised=24, TransferSyntaxUID=IMPLICIT,
                 analysis_result_id="lung_seg_demo",
                 StructureSetROISequence=[{"ROINumber": 1, "ROIName": "GTV", "ROIGenerationAlgorithm": "MANUAL"},
                                          {"ROINumber": 2, "ROIName": "Lung_L", "ROIGenerationAlgorithm": "AUTOMATIC"}],
                 RTROIObservationsSequence=[{"ReferencedROINumber": 1, "RTROIInterpretedType": "GTV"},
                                            {"ReferencedROINumber": 2, "RTROIInterpretedType": "ORGAN"}],
                 ReferencedFrameOfReferenceSequence=[{"FrameOfReferenceUID": _uid(1, p, 7), "RTReferencedStudySequence": [
                     {"ReferencedSOPInstanceUID": study, "RTReferencedSeriesSequence": [{"SeriesInstanceUID": ct1[0]["SeriesInstanceUID"]}]}]}])
        if p == 1:
            g.series(lung, patient, study, _uid(1, p, 1, 5), "SR", 1, TransferSyntaxUID=EXPLICIT)

    # seg_index: a SEG series without segments (no row, as idc-index-data's seg_index.sql) and one whose
    # referenced instance is not in IDC (segmented_SeriesInstanceUID NULL, though its series is)
    g.series(lung, "LCT-001", _uid(1, 1, 1), _uid(1, 1, 1, 31), "SEG", 1, init=25, revised=25,
             SegmentationType="BINARY", SegmentSequence=[], ReferencedSeriesSequence=[{
                 "SeriesInstanceUID": CT_SERIES, "ReferencedInstanceSequence": [{"ReferencedSOPInstanceUID": f"{CT_SERIES}.1"}]}])
    g.series(lung, "LCT-003", _uid(1, 3, 1), _uid(1, 3, 1, 32), "SEG", 1, init=25, revised=25,
             SegmentationType="FRACTIONAL", SegmentSequence=[{
                 "SegmentNumber": 1, "SegmentLabel": "Nodule", "SegmentAlgorithmType": "SEMIAUTOMATIC", "SegmentAlgorithmName": [],
                 "SegmentedPropertyCategoryCodeSequence": [code("49755003", "SCT", "Morphologically Altered Structure")],
                 "SegmentedPropertyTypeCodeSequence": [code("27925004", "SCT", "Nodule")],
                 "AnatomicRegionSequence": [{**code("39607008", "SCT", "Lung"), "AnatomicRegionModifierSequence": []}]}],
             ReferencedSeriesSequence=[{"SeriesInstanceUID": _uid(1, 3, 1, 1), "ReferencedInstanceSequence": [
                 {"ReferencedSOPInstanceUID": _uid(1, 3, 1, 1, 99)}]}])

    # prostate_mr_demo: 2 patients, T2 and DWI
    for p in range(1, 3):
        patient, study = f"PMR-00{p}", _uid(2, p, 1)
        mr = dict(ImageType=["ORIGINAL", "PRIMARY", "M"], MagneticFieldStrength=3.0, ScanningSequence=["SE"],
                  SequenceVariant=["SK", "SP"], MRAcquisitionType="2D", RepetitionTime=4000.0, EchoTrainLength=16,
                  FlipAngle=90.0, PixelBandwidth=200.0, ImagingFrequency=123.2, ImagedNucleus="1H",
                  ReceiveCoilName="BODY", SequenceName="tse2d1_16", SliceThickness=3.0, NumberOfTemporalPositions=1,
                  PhotometricInterpretation="MONOCHROME2", PixelRepresentation=0, TransferSyntaxUID=IMPLICIT)
        g.series(pros, patient, study, _uid(2, p, 1, 1), "MR", 5,
                 per_instance=lambda k: {**_ct_slice(-20.0, 3.0, 0.5)(k), "EchoTime": 101.0}, **mr)
        g.series(pros, patient, study, _uid(2, p, 1, 2), "MR", 6,
                 per_instance=lambda k: {**_ct_slice(-20.0, 3.0, 2.0)(k // 2), "EchoTime": 80.0 + (k % 2),
                                         "DiffusionBValue": [0.0, 800.0][k % 2]},
                 **{**mr, "ScanningSequence": ["EP"], "SequenceVariant": ["SK"]})

    # petct_demo: 2 patients, PT + CT
    for p in range(1, 3):
        patient, study = f"PET-00{p}", _uid(3, p, 1)
        g.series(pet, patient, study, _uid(3, p, 1, 1), "PT", 4,
                 per_instance=lambda k: {**_ct_slice(0.0, 3.27, 4.0)(k), "ActualFrameDuration": 180000},
                 ImageType=["ORIGINAL", "PRIMARY"], SeriesType=["WHOLE BODY", "IMAGE"], Units="BQML",
                 DecayCorrection="START", CorrectedImage=["DECY", "ATTN", "SCAT"], RandomsCorrectionMethod="DLYD",
                 ReconstructionMethod="OSEM", ScatterCorrectionMethod="MODEL", AttenuationCorrectionMethod="CT",
                 NumberOfSlices=4, NumberOfTimeSlices=1, SliceThickness=3.27, PhotometricInterpretation="MONOCHROME2",
                 PixelRepresentation=0, ContrastBolusAgent=None,
                 RadiopharmaceuticalInformationSequence=[{
                     "Radiopharmaceutical": "Fluorodeoxyglucose", "RadiopharmaceuticalStartTime": dt.time(10, 15),
                     "RadionuclideTotalDose": 370000000.0,
                     "RadionuclideCodeSequence": [code("C-111A1", "SRT", "^18^Fluorine")]}])
        g.series(pet, patient, study, _uid(3, p, 1, 2), "CT", 4, per_instance=_ct_slice(0.0, 3.27), **ct_common)

    # breast_sm_demo: 2 slides, each a pyramid of 3 levels (+ a label image), and one annotation series
    for p in range(1, 3):
        patient, study = f"BSM-00{p}", _uid(4, p, 1)
        series_uid = _uid(4, p, 1, 1)
        stain = "hematoxylin stain" if p == 1 else "eosin"

        def prep(kind_value: str, kind_meaning: str, c: dict[str, str]) -> dict[str, Any]:
            return {"SpecimenPreparationStepContentItemSequence": [
                {"ValueType": "CODE", "ConceptNameCodeSequence": [code(kind_value, "SCT", kind_meaning)],
                 "ConceptCodeSequence": [c], "TextValue": None}]}

        specimen = [{
            "SpecimenUID": _uid(4, p, 5), "SpecimenIdentifier": f"S-{p}",
            "SpecimenPreparationSequence": [
                prep("430863003", "Embedding medium", code("311731000", "SCT", "Paraffin wax")),
                prep("430864009", "Tissue Fixative", code("431510009", "SCT", "Formalin")),
                prep("424361007", "Using substance", code("12710003" if p == 1 else "36879007", "SCT", stain)),
                prep("424361007", "Using substance", code("36879007", "SCT", "water soluble eosin stain")) if p == 1 else
                prep("111703", "DCM", code("111703", "DCM", "Processing type")),
            ],
            "PrimaryAnatomicStructureSequence": [{
                **code("76752008", "SCT", "Breast"),
                "PrimaryAnatomicStructureModifierSequence": [code("7771000", "SCT", "Left")] if p == 1 else []}],
        }]

        def sm_level(k: int, p: int = p) -> dict[str, Any]:
            level = k % 4
            spacing = [0.000250, 0.001, 0.004, 0.02][level]
            size = [40000, 10000, 2500, 800][level]
            return {
                "ImageType": ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"] if level < 3 else ["ORIGINAL", "PRIMARY", "LABEL", "NONE"],
                "TotalPixelMatrixRows": size, "TotalPixelMatrixColumns": size + 1000, "Rows": 256, "Columns": 256,
                "TransferSyntaxUID": JPEG if level else J2K, "instance_size": 1000000 // (level + 1),
                "SharedFunctionalGroupsSequence": [{"PixelMeasuresSequence": [{"PixelSpacing": [spacing, spacing * 1.01], "SliceThickness": None}]}],
                "PyramidUID": _uid(4, p, 6) if level < 3 else None, "PyramidLabel": f"slide {p}" if level < 3 else None,
            }

        g.series(path, patient, study, series_uid, "SM", 4, per_instance=sm_level, ContainerIdentifier=f"SLIDE-{p}",
                 PhotometricInterpretation="YBR_FULL_422", PixelRepresentation=0,
                 SpecimenDescriptionSequence=specimen,
                 OpticalPathSequence=[{"OpticalPathIdentifier": "1", "ObjectiveLensPower": 20.0, "IlluminationWaveLength": None,
                                       "IlluminationTypeCodeSequence": [code("111744", "DCM", "Brightfield illumination")],
                                       "IlluminationColorCodeSequence": [code("414298005", "SCT", "Full Spectrum")]}],
                 AdmittingDiagnosesCodeSequence=[code("254837009", "SCT", "Malignant neoplasm of breast")] if p == 1 else [])
        if p == 1:
            groups = [{"AnnotationGroupNumber": n, "AnnotationGroupUID": _uid(4, p, 8, n), "AnnotationGroupLabel": lab,
                       "AnnotationGroupGenerationType": "AUTOMATIC", "NumberOfAnnotations": cnt, "GraphicType": gt,
                       "AnnotationPropertyCategoryCodeSequence": [code("91723000", "SCT", "Anatomical structure")],
                       "AnnotationPropertyTypeCodeSequence": [code(cv, "SCT", lab)],
                       "AnnotationGroupAlgorithmIdentificationSequence": [{"AlgorithmName": "HoVer-Net", "AlgorithmVersion": "1.0"}]}
                      for n, (lab, cv, cnt, gt) in enumerate([("Nucleus", "84640000", 1520, "POLYGON"),
                                                              ("Tumor cell", "252987003", 310, "POINT")], 1)]
            g.series(path, patient, study, _uid(4, p, 1, 2), "ANN", 1, AnnotationCoordinateType="2D",
                     AnnotationGroupSequence=groups,
                     ReferencedSeriesSequence=[{"SeriesInstanceUID": series_uid, "ReferencedInstanceSequence": []}])

    # sm_index / sm_instance_index edge cases (parity with idc-index-data's SQL). SLIDE-1B: a top-level
    # PixelSpacing (preferred to the shared functional groups'), no TotalPixelMatrixRows/Columns (Rows and
    # Columns stand in), stains CD3 and CD31 (sorted as 'meaning:scheme:value': CD31 first), a stain and
    # an admitting diagnosis (on one instance only) whose meanings contain ':'. SLIDE-2B: pixel spacing
    # 0, which min_PixelSpacing_2sf keeps as 0 (LOG10(0) is an error in BigQuery), and no specimen.
    def using(c: dict[str, str]) -> dict[str, Any]:
        return {"SpecimenPreparationStepContentItemSequence": [
            {"ValueType": "CODE", "ConceptNameCodeSequence": [code("424361007", "SCT", "Using substance")],
             "ConceptCodeSequence": [c], "TextValue": None}]}

    g.series(path, "BSM-001", _uid(4, 1, 1), _uid(4, 1, 1, 33), "SM", 2, init=25, revised=25,
             per_instance=lambda k: {
                 "ImageType": ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"], "Rows": [2048, 512][k], "Columns": [1536, 384][k],
                 "PixelSpacing": [[0.000487, 0.000487], [0.002, 0.002]][k],
                 "SharedFunctionalGroupsSequence": [{"PixelMeasuresSequence": [
                     {"PixelSpacing": [[0.000243, 0.000243], [0.001, 0.001]][k], "SliceThickness": None}]}],
                 "AdmittingDiagnosesCodeSequence": [[], [code("408643008", "SCT", "Carcinoma: invasive ductal")]][k]},
             ContainerIdentifier="SLIDE-1B", PhotometricInterpretation="YBR_FULL_422", PixelRepresentation=0,
             TransferSyntaxUID=JPEG, PyramidUID=_uid(4, 1, 6, 33), PyramidLabel="slide 1B",
             SpecimenDescriptionSequence=[{
                 "SpecimenUID": _uid(4, 1, 5, 33), "SpecimenIdentifier": "S-1B",
                 "SpecimenPreparationSequence": [using(code("CD3", "99IDC", "CD3")), using(code("CD31", "99IDC", "CD31")),
                                                 using(code("12710003", "SCT", "Hematoxylin: Mayer's"))],
                 "PrimaryAnatomicStructureSequence": [{**code("76752008", "SCT", "Breast"),
                                                       "PrimaryAnatomicStructureModifierSequence": []}]}],
             OpticalPathSequence=[{"OpticalPathIdentifier": "1", "ObjectiveLensPower": 40.0, "IlluminationWaveLength": None,
                                   "IlluminationTypeCodeSequence": [code("111744", "DCM", "Brightfield illumination")],
                                   "IlluminationColorCodeSequence": [code("414298005", "SCT", "Full Spectrum")]}])
    g.series(path, "BSM-002", _uid(4, 2, 1), _uid(4, 2, 1, 34), "SM", 1, init=25, revised=25,
             ContainerIdentifier="SLIDE-2B", PhotometricInterpretation="YBR_FULL_422", PixelRepresentation=0,
             ImageType=["ORIGINAL", "PRIMARY", "VOLUME", "NONE"], TotalPixelMatrixRows=1000, TotalPixelMatrixColumns=1200,
             Rows=256, Columns=256, TransferSyntaxUID=JPEG,
             SharedFunctionalGroupsSequence=[{"PixelMeasuresSequence": [{"PixelSpacing": [0.0, 0.0], "SliceThickness": None}]}])

    # volume_geometry_index: CT series of LCT-002 (new in v25) that it leaves out, as idc-index-data's
    # query does (a localizer, a MIP), or flags (.8: one gap 3.0 mm among 2.5 mm ones, so not uniform)
    lct2 = ("LCT-002", _uid(1, 2, 1))
    g.series(lung, *lct2, _uid(1, 2, 1, 6), "CT", 1, init=25, revised=25,
             per_instance=lambda k: {**_ct_slice(0.0, 0.0)(k), "ImageOrientationPatient": [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]},
             **{**ct_common, "ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]})
    g.series(lung, *lct2, _uid(1, 2, 1, 7), "CT", 4, init=25, revised=25, per_instance=_ct_slice(-100.0, 10.0),
             **{**ct_common, "ImageType": ["DERIVED", "SECONDARY", "MIP"]})
    g.series(lung, *lct2, _uid(1, 2, 1, 8), "CT", 6, init=25, revised=25,
             per_instance=lambda k: _ct_slice(-100.0 + (0.5 if k >= 4 else 0.0), 2.5)(k), **ct_common)
    return {"gen": g, "collections": [lung, pros, pet, path]}


def _prior_release(g: _Gen, version: int) -> list[dict[str, Any]]:
    """dicom_all of an earlier release: series that existed then, with the UUID they had then."""
    rows = []
    for r in g.instances:
        init, revised = g.series_versions[r["SeriesInstanceUID"]]
        if init > version:
            continue
        # a series revised after this release was served then under the UUID of its older version
        s_uuid = r["crdc_series_uuid"] if revised <= version else _uuid(r["SeriesInstanceUID"], "before", revised)
        gcs = r["gcs_url"].split("/")[2]
        rows.append({k: r[k] for k in ("collection_id", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                                       "SOPInstanceUID", "Modality", "instance_size")} |
                    {"crdc_series_uuid": s_uuid, "gcs_url": f"gs://{gcs}/{s_uuid}/{r['SOPInstanceUID']}.dcm"})
    # a series that v23 and v24 served and v25 dropped, stored in the legacy bucket
    for k in range(3):
        rows.append({"collection_id": "lung_ct_demo", "PatientID": "LCT-001", "StudyInstanceUID": _uid(1, 1, 1),
                     "SeriesInstanceUID": REMOVED_SERIES, "SOPInstanceUID": f"{REMOVED_SERIES}.{k}", "Modality": "CT",
                     "instance_size": 1000000, "crdc_series_uuid": _uuid(REMOVED_SERIES),
                     "gcs_url": f"gs://public-datasets-idc/{_uuid(REMOVED_SERIES)}/{k}.dcm"})
    return rows


def _collections(colls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n, c in enumerate(colls):
        out.append({
            "collection_name": c["id"].replace("_", " ").title(), "collection_id": c["id"],
            "cancer_types": ["Lung Cancer", "Prostate Cancer", "Lymphoma", "Breast Cancer"][n],
            "tumor_locations": ["Lung", "Prostate", "Various", "Breast"][n], "subjects": [3, 2, 2, 2][n],
            "species": "Human",
            "sources": [{"source_id": c["id"], "source_title": f"Data from {c['id']}", "source_type": "original_data",
                         "source_doi": c["doi"], "source_url": f"https://doi.org/{c['doi']}", "modalities": "CT",
                         "license": {"license_url": "https://creativecommons.org/licenses/by/4.0/",
                                     "license_long_name": "Creative Commons Attribution 4.0 International License",
                                     "license_short_name": "CC BY 4.0"},
                         "citation": f"Demo authors. {c['id']}.",
                         "provenance": {"data_contributor": "TCIA", "source_data_provider": "TCIA",
                                        "deidentification_party": "TCIA", "dicom_conversion_by": "NOT_APPLICABLE"},
                         "Access": "Public", "ImageTypes": "CT"}] + ([{
                # an analysis result with no provenance record (IDC's table has a NULL provenance then)
                "source_id": "lung_seg_demo", "source_title": "Lung segmentations (demo)", "source_type": "analysis_result",
                "source_doi": "10.0000/demo.lungseg", "source_url": "https://doi.org/10.0000/demo.lungseg",
                "modalities": "SEG, RTSTRUCT", "license": {"license_url": "https://creativecommons.org/licenses/by/4.0/",
                                                           "license_long_name": "Creative Commons Attribution 4.0 International License",
                                                           "license_short_name": "CC BY 4.0"},
                "citation": "Demo authors. Lung segmentations.", "provenance": None, "Access": "Public",
                "ImageTypes": "SEG, RTSTRUCT"}] if n == 0 else []),
            "supporting_data": "" if n else "Clinical", "program_id": "community", "status": "Complete",
            "updated": dt.date(2024, 1, 1 + n), "description": f"Synthetic {c['id']} collection.",
        })
    return out


PROVENANCE = ST(data_contributor=s, source_data_provider=s, deidentification_party=s, dicom_conversion_by=s)
COLLECTIONS = pa.schema([
    ("collection_name", s), ("collection_id", s), ("cancer_types", s), ("tumor_locations", s), ("subjects", i64),
    ("species", s),
    ("sources", L(ST(source_id=s, source_title=s, source_type=s, source_doi=s, source_url=s, modalities=s,
                     license=ST(license_url=s, license_long_name=s, license_short_name=s), citation=s,
                     provenance=PROVENANCE, Access=s, ImageTypes=s))),
    ("supporting_data", s), ("program_id", s), ("status", s), ("updated", pa.date32()), ("description", s),
])
ANALYSIS = pa.schema([
    ("analysis_result_id", s), ("analysis_result_title", s), ("source_doi", s), ("source_url", s), ("subjects", i64),
    ("collections", s), ("modalities", s), ("Updated", pa.date32()), ("license_url", s), ("license_long_name", s),
    ("license_short_name", s), ("description", s), ("citation", s), ("provenance", PROVENANCE),
])


def as_exported(row: dict[str, Any], schema: pa.Schema | pa.DataType) -> dict[str, Any]:
    """A row as BigQuery stores it: a repeated field is never NULL, a missing one is ``[]``
    (at every depth: the repeated fields inside the records of a sequence too)."""
    fields = schema if isinstance(schema, pa.Schema) else list(schema)
    out = dict(row)
    for f in fields:
        value = out.get(f.name)
        if pa.types.is_list(f.type):
            item = f.type.value_type
            value = [] if value is None else value
            out[f.name] = [as_exported(v, item) if pa.types.is_struct(item) and v is not None else _text(v, item)
                           for v in value]
        elif pa.types.is_struct(f.type) and value is not None:
            out[f.name] = as_exported(value, f.type)
        else:
            out[f.name] = _text(value, f.type)
    return out


def _text(value: Any, typ: pa.DataType) -> Any:
    """A number written in a STRING column (a DS or IS) as DICOM writes it."""
    if pa.types.is_string(typ) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return value


def write_fixture(out: Path, drop: tuple[str, ...] = ()) -> Path:
    """Write the synthetic source tables to ``out`` (created); returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate()
    g: _Gen = data["gen"]

    def write(name: str, rows: list[dict[str, Any]], schema: pa.Schema, sub: str = "") -> None:
        d = out / sub if sub else out
        d.mkdir(parents=True, exist_ok=True)
        rows = [as_exported(row, schema) for row in rows]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), d / f"{name}.parquet", compression="zstd")

    write("dicom_all", g.instances, DICOM_ALL)
    write("dicom_metadata", g.instances, DICOM_METADATA)
    write("auxiliary_metadata", g.aux, pa.schema([("SeriesInstanceUID", s), ("SOPInstanceUID", s),
                                                  ("series_init_idc_version", i64), ("series_revised_idc_version", i64),
                                                  ("instance_revised_idc_version", i64)]))
    write("dicom_metadata_curated", g.curated, pa.schema([("SOPInstanceUID", s), ("SeriesInstanceUID", s), ("BodyPartExamined", s)]))
    write("original_collections_metadata", _collections(data["collections"]), COLLECTIONS)
    write("analysis_results_metadata", [{
        "analysis_result_id": "lung_seg_demo", "analysis_result_title": "Lung segmentations (demo)",
        "source_doi": "10.0000/demo.lungseg", "source_url": "https://doi.org/10.0000/demo.lungseg", "subjects": 3,
        "collections": "lung_ct_demo", "modalities": "SEG, RTSTRUCT", "Updated": dt.date(2025, 5, 1),
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "license_long_name": "Creative Commons Attribution 4.0 International License", "license_short_name": "CC BY 4.0",
        "description": "Automatic lung segmentations.", "citation": "Demo authors. Lung segmentations.",
        "provenance": {"data_contributor": "IDC", "source_data_provider": "IDC", "deidentification_party": "TCIA",
                       "dicom_conversion_by": "IDC"}}], ANALYSIS)
    write("version_metadata", [{"idc_version": v, "version_timestamp": (dt.date(2020, 6, 1) + dt.timedelta(days=120 * (v - 1))).isoformat()}
                               for v in range(1, IDC_VERSION + 1)],
          pa.schema([("idc_version", i64), ("version_timestamp", s)]))
    write("column_metadata", [
        {"collection_id": "lung_ct_demo", "table_name": f"bigquery-public-data.idc_v{IDC_VERSION}_clinical.lung_ct_demo_clinical",
         "column": "smoking_status", "column_label": "Smoking status",
         "values": [{"option_code": "1", "option_description": "never"}, {"option_code": "2", "option_description": "former"}]},
        {"collection_id": "lung_ct_demo", "table_name": f"bigquery-public-data.idc_v{IDC_VERSION}_clinical.lung_ct_demo_clinical",
         "column": "age_at_diagnosis", "column_label": "", "values": []},
        {"collection_id": "prostate_mr_demo", "table_name": f"bigquery-public-data.idc_v{IDC_VERSION}_clinical.prostate_mr_demo_outcome",
         "column": "psa", "column_label": "PSA (ng/mL)", "values": []},
    ], pa.schema([("collection_id", s), ("table_name", s), ("column", s), ("column_label", s),
                  ("values", L(ST(option_code=s, option_description=s)))]), sub="clinical")
    for v in PRIOR:
        write("dicom_all", _prior_release(g, v), PRIOR_DICOM_ALL, sub=f"idc_v{v}")
    for name in drop:
        (out / f"{name}.parquet").unlink()
    return out
