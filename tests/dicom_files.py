"""Real DICOM files made for the tests: a VL Whole Slide Microscopy image with the attributes
pathology users ask for (built with pydicom, as a scanner writes one: an ICC profile in each
optical path makes its header larger than the first read), a small CT series (pydicom's CT test
image, re-identified slice by slice), and a segmentation of that series made with highdicom."""

from __future__ import annotations

import io

import numpy as np
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

VL_WSI = "1.2.840.10008.5.1.4.1.1.77.1.6"


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def slide(series_uid: str, *, optical_paths: int = 3, icc_bytes: int = 40_000, frames: int = 12,
          label: str = "slide-1") -> Dataset:
    """A VL Whole Slide Microscopy image of ``frames`` 256x256 RGB tiles (about 2.4 MB of pixel
    data with 12) whose header holds ``optical_paths`` optical paths, each with an ICC profile of
    ``icc_bytes`` bytes."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = VL_WSI
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = VL_WSI
    ds.Modality = "SM"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), series_uid
    ds.PatientID, ds.PatientName = "P-1", "Doe^Jane"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.ContainerIdentifier = label
    ds.PyramidUID, ds.PyramidLabel = generate_uid(), f"pyramid of {label}"
    ds.Rows = ds.Columns = 256
    ds.NumberOfFrames = frames
    ds.TotalPixelMatrixRows, ds.TotalPixelMatrixColumns = 256 * frames, 256
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    measures = Dataset()
    measures.PixelSpacing = [0.00025, 0.00025]
    measures.SliceThickness = 0.001
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    specimen = Dataset()
    specimen.SpecimenIdentifier, specimen.SpecimenUID = f"{label}-specimen", generate_uid()
    specimen.PrimaryAnatomicStructureSequence = Sequence([_code("39607008", "SCT", "Lung")])
    ds.SpecimenDescriptionSequence = Sequence([specimen])
    paths = []
    for n in range(optical_paths):
        path = Dataset()
        path.OpticalPathIdentifier = str(n + 1)
        path.IlluminationTypeCodeSequence = Sequence([_code("111744", "DCM", "Brightfield illumination")])
        path.IlluminationColorCodeSequence = Sequence([_code("414298005", "SCT", "Full Spectrum")])
        path.IlluminationWaveLength = 550.0 + n
        path.ICCProfile = bytes((n + i) % 251 for i in range(icc_bytes))
        paths.append(path)
    ds.OpticalPathSequence = Sequence(paths)
    rng = np.random.default_rng(len(label))
    ds.PixelData = rng.integers(0, 255, size=frames * 256 * 256 * 3, dtype=np.uint8).tobytes()
    return ds


def ct_series(series_uid: str, study_uid: str, slices: int = 3) -> list[Dataset]:
    """``slices`` CT images of 128x128 (pydicom's CT_small.dcm) of one series, 1 mm apart."""
    frame_of_reference = generate_uid()
    out = []
    for n in range(slices):
        ds = dcmread(get_testdata_file("CT_small.dcm"))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_of_reference
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [-158.0, -179.0, -75.0 + n]
        ds.SliceThickness = 1.0
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        out.append(ds)
    return out


def segmentation(images: list[Dataset], series_uid: str) -> Dataset:
    """A binary segmentation (highdicom) of ``images``, one segment in the middle of each slice."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    mask = np.zeros((len(images), images[0].Rows, images[0].Columns), dtype=np.uint8)
    mask[:, 40:80, 40:80] = 1
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    return hd.seg.Segmentation(
        source_images=images, pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment], series_instance_uid=series_uid, series_number=100,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="tests", manufacturer_model_name="tests",
        software_versions="0", device_serial_number="1",
    )
