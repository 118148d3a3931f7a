"""The DICOM attributes a user asks for, checked before anything is read, and their values taken
from a parsed header as values that Arrow and pandas hold.

An attribute is written as

- a keyword of the DICOM dictionary: ``Rows``, ``PixelSpacing``;
- a tag: ``(0028,0010)``, ``0028,0010``, ``00280010`` or ``0x00280010`` (private tags too);
- a path through sequences, each sequence with the item to take (``[0]``, ``[-1]``) or ``[*]``
  for every item (a list): ``OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning``,
  ``OpticalPathSequence[*].OpticalPathIdentifier``;
- any of these followed by ``:json``: the element in DICOM's JSON model (PS3.18 F), as a text.

Values: numbers as numbers (``DS`` and ``FL``/``FD`` as floats, ``IS`` and the binary integers as
ints), texts, person names, dates and UIDs as strings, tags (``AT``) as ``"(gggg,eeee)"``, bytes
as bytes; an attribute that the dictionary allows more than one value (``ImageType``,
``PixelSpacing``) as a list, always; a sequence, or a sequence item (``OpticalPathSequence[0]``),
as a text in DICOM's JSON model. A missing attribute, item or value is None.

Example:
    >>> specs = parse_attributes(["Rows", "(0028,0011)", "OpticalPathSequence[0].OpticalPathIdentifier"])
    >>> [s.column for s in specs]
    ['Rows', '(0028,0011)', 'OpticalPathSequence[0].OpticalPathIdentifier']
    >>> value(dataset, specs[0])  # doctest: +SKIP
    512
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from idc_index.errors import UnknownAttributeError
from idc_index.headers.dependency import require_pydicom

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

#: ``[*]``: every item of a sequence.
EVERY = "*"

_STEP = re.compile(
    r"""^(?:
          \((?P<paren_group>[0-9A-Fa-f]{4}),\s*(?P<paren_element>[0-9A-Fa-f]{4})\)
        | (?P<comma_group>[0-9A-Fa-f]{4}),(?P<comma_element>[0-9A-Fa-f]{4})
        | (?:0[xX])?(?P<hex>[0-9A-Fa-f]{8})
        | (?P<keyword>[A-Za-z][A-Za-z0-9]*)
        )(?:\[(?P<index>-?\d+|\*)\])?$""",
    re.VERBOSE,
)

_FORMS = (
    "Write a DICOM keyword (Rows), a tag ((0028,0010), 00280010 or 0x00280010), a path through sequences "
    "with the item to take (OpticalPathSequence[0].IlluminationColorCodeSequence[0].CodeMeaning, or [*] for "
    "every item), optionally followed by :json for the element in DICOM's JSON model."
)

Index = Union[int, str, None]


@dataclass(frozen=True)
class Step:
    """One element of a path: its tag, how the user named it, and the item or value to take
    (an int, :data:`EVERY`, or None)."""

    tag: int
    name: str
    index: Index = None


@dataclass(frozen=True)
class AttributeSpec:
    """An attribute as asked for: ``column`` (the text given, the name of its column), the
    ``steps`` of its path, and whether its value is wanted in DICOM's JSON model."""

    column: str
    steps: tuple[Step, ...]
    as_json: bool = False


def parse_attributes(attributes: Iterable[str] | str) -> list[AttributeSpec]:
    """Every attribute of ``attributes`` checked (a text, or a list of them), in order, each
    once.

    Raises:
        TypeError: ``attributes`` is not a string or a list of strings.
        UnknownAttributeError: an unknown keyword (the message names the closest ones), a tag or
            path that is not written as one, an element of a path that is no sequence, or no
            attribute at all.
        MissingDependencyError: pydicom (whose dictionary knows the keywords) is not installed.
    """
    if isinstance(attributes, str):
        attributes = [attributes]
    given = list(attributes) if not isinstance(attributes, (bytes, dict)) else None
    if given is None or not all(isinstance(a, str) for a in given):
        raise TypeError("attributes must be a string or a list of strings, such as ['Rows', 'PixelSpacing']")
    specs: list[AttributeSpec] = []
    seen: set[str] = set()
    for text in given:
        spec = parse_attribute(text)
        if spec.column not in seen:
            seen.add(spec.column)
            specs.append(spec)
    if not specs:
        raise UnknownAttributeError(f"no attribute given. {_FORMS}")
    return specs


def parse_attribute(text: str) -> AttributeSpec:
    """One attribute checked; see :func:`parse_attributes`."""
    datadict = require_pydicom().datadict
    column = text.strip()
    path, as_json = (column[: -len(":json")], True) if column.lower().endswith(":json") else (column, False)
    parts = path.split(".")
    steps = []
    for position, part in enumerate(parts):
        match = _STEP.match(part.strip())
        if match is None:
            raise UnknownAttributeError(f"{text!r}: {part!r} is not a keyword, a tag or one with [item]. {_FORMS}")
        keyword = match["keyword"]
        if keyword is not None:
            tag = datadict.tag_for_keyword(keyword)
            if tag is None:
                raise UnknownAttributeError(f"{text!r}: {_unknown_keyword(keyword)}")
        else:
            digits = match["hex"] or (match["paren_group"] or match["comma_group"]) + (
                match["paren_element"] or match["comma_element"]
            )
            tag = int(digits, 16)
        raw_index = match["index"]
        index: Index = None if raw_index is None else (EVERY if raw_index == EVERY else int(raw_index))
        name = keyword or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        last = position == len(parts) - 1
        vr = _dictionary_vr(tag)
        if not last:
            if vr is not None and vr != "SQ":
                raise UnknownAttributeError(f"{text!r}: {name} is not a sequence, so nothing is inside it. {_FORMS}")
            if index is None:
                rest = ".".join(parts[position + 1:])
                raise UnknownAttributeError(
                    f"{text!r}: say which item of {name} to read: {name}[0].{rest} (the first) or "
                    f"{name}[*].{rest} (every item, as a list)"
                )
        steps.append(Step(tag, name, index))
    return AttributeSpec(column, tuple(steps), as_json)


def _dictionary_vr(tag: int) -> str | None:
    datadict = require_pydicom().datadict
    try:
        return str(datadict.dictionary_VR(tag))
    except KeyError:  # a private or retired-and-unknown tag: its VR is the file's
        return None


def _unknown_keyword(keyword: str) -> str:
    """Why ``keyword`` is refused, with the keywords closest to it."""
    keywords = list(require_pydicom().datadict.keyword_dict)
    same = [k for k in keywords if k.lower() == keyword.lower()]
    close = same or difflib.get_close_matches(keyword, keywords, n=3, cutoff=0.7)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"{keyword!r} is not a keyword of the DICOM dictionary.{hint} A private or unlisted element is read by "
        "its tag, such as (0009,1001)."
    )


def value(dataset: Dataset, spec: AttributeSpec) -> Any:
    """The value of ``spec`` in ``dataset`` (see the module's text), None when it is missing.

    Raises:
        Exception: pydicom's, for a value it cannot decode (the caller reports it for the instance).
    """
    meta = getattr(dataset, "file_meta", None)
    if spec.steps[0].tag >> 16 == 0x0002 and meta is not None:  # File Meta Information: TransferSyntaxUID
        return _walk(meta, spec.steps, spec.as_json)
    return _walk(dataset, spec.steps, spec.as_json)


def _walk(node: Dataset, steps: Sequence[Step], as_json: bool) -> Any:
    step, rest = steps[0], steps[1:]
    if step.tag not in node:
        return None
    element = node[step.tag]
    if rest:
        if element.VR != "SQ" or element.value is None:
            return None
        items = list(element.value)
        if step.index == EVERY:
            return [_walk(item, rest, as_json) for item in items]
        assert isinstance(step.index, int)  # checked by parse_attribute
        if not -len(items) <= step.index < len(items):
            return None
        return _walk(items[step.index], rest, as_json)
    return _last(element, step.index, as_json)


def _last(element: DataElement, index: Index, as_json: bool) -> Any:
    """The value of the last element of a path, its item or value ``index`` taken when given."""
    if element.VR == "SQ":
        items = list(element.value or [])
        if index is None or index == EVERY:
            return _json(element) if index is None else [_dataset_json(item) for item in items]
        assert isinstance(index, int)
        return _dataset_json(items[index]) if -len(items) <= index < len(items) else None
    if as_json and index is None:
        return _json(element)
    values = python_value(element)
    if index is None or index == EVERY or values is None:
        return values
    values = values if isinstance(values, list) else [values]
    assert isinstance(index, int)
    return values[index] if -len(values) <= index < len(values) else None


def _json(element: DataElement) -> str:
    return json.dumps(element.to_json_dict(None, 0), separators=(",", ":"))


def _dataset_json(item: Dataset) -> str:
    return json.dumps(item.to_json_dict(), separators=(",", ":"))


def python_value(element: DataElement) -> Any:
    """The value of a (non-sequence) element as Arrow and pandas hold it; None when empty."""
    if element.VR == "SQ":
        return _json(element)
    raw = element.value
    if raw is None or raw == "" or raw == b"":
        return None
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    many = not isinstance(raw, str) and isinstance(raw, Sequence)
    values = [_scalar(v, element.VR) for v in (raw if many else [raw])]
    if many or _multi_valued(element.tag):
        return values
    return values[0]


def _multi_valued(tag: int) -> bool:
    """Whether the dictionary allows ``tag`` more than one value (``"1"`` does not)."""
    try:
        return str(require_pydicom().datadict.dictionary_VM(tag)) not in ("1", "")
    except KeyError:
        return False


def _scalar(v: Any, vr: str) -> Any:
    if v is None or v == "":
        return None
    if vr in ("DS", "FL", "FD"):
        return float(v)
    if vr == "IS":
        return int(v)
    if vr == "AT":
        return f"({int(v) >> 16:04X},{int(v) & 0xFFFF:04X})"
    if isinstance(v, (int, float, bytes)):
        return v
    return str(v)  # texts, PersonName, UID, dates and times as written


__all__ = ["EVERY", "AttributeSpec", "Step", "parse_attribute", "parse_attributes", "python_value", "value"]
