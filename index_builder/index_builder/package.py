"""A release as a pure-data wheel (like idc-index-data: a package holding the parquet files) and the
list of files to attach to the release as assets.

The wheel is written with the standard library only: a zip with ``<pkg>/`` (the parquet files,
``manifest.json`` describing exactly the files in the wheel, ``release_manifest.json`` describing
the whole release so a client can verify indices fetched from the release assets, and a small
``__init__.py``) and ``<dist>-<version>.dist-info/`` with METADATA, WHEEL, top_level.txt and RECORD.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

from index_builder import BUILDER_NAME, __version__
from index_builder.errors import ReleaseError
from index_builder.manifest import MANIFEST, verify_release

INIT_TEMPLATE = '''"""IDC index release {release} (IDC data release v{idc_version}), packaged by {builder}."""

from __future__ import annotations

import json
from pathlib import Path

__version__ = "{version}"
IDC_VERSION = {idc_version}
RELEASE_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = RELEASE_DIR / "manifest.json"
RELEASE_MANIFEST_PATH = RELEASE_DIR / "release_manifest.json"
MANIFEST = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def _file(name: str) -> Path | None:
    entry = MANIFEST["indices"].get(name)
    return RELEASE_DIR / entry["file"] if entry else None


IDC_INDEX_PARQUET_FILEPATH = _file("idc_index")
PRIOR_VERSIONS_INDEX_PARQUET_FILEPATH = _file("prior_versions_index")
INDEX_FILEPATHS = {{name: RELEASE_DIR / entry["file"] for name, entry in MANIFEST["indices"].items()}}
'''


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip_time() -> tuple[int, int, int, int, int, int]:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01: reproducible wheels
    return time.gmtime(max(epoch, 315532800))[:6]


def package_release(
    release_dir: Path, out: Path, name: str = "idc-index-data", wheel_indices: list[str] | None = None
) -> tuple[Path, list[str]]:
    """Write ``<dist>-<release>-py3-none-any.whl`` and ``assets.txt`` into ``out``."""
    release_dir, out = Path(release_dir), Path(out)
    manifest = verify_release(release_dir)
    chosen = wheel_indices or list(manifest["indices"])
    unknown = [n for n in chosen if n not in manifest["indices"]]
    if unknown:
        raise ReleaseError(f"--wheel-index {unknown} not in the release; it has {', '.join(manifest['indices'])}")
    version = manifest["release"]
    if not re.fullmatch(r"\d+(\.\d+)*([abc]|rc)?\d*(\.post\d+)?(\.dev\d+)?", version):
        raise ReleaseError(f"release {version!r} is not a valid Python package version; pass --release like 25.0.0 to build")
    dist, pkg = _normalize(name), _normalize(name)
    info = f"{dist}-{version}.dist-info"
    wheel_manifest = copy.deepcopy(manifest)
    wheel_manifest["indices"] = {n: manifest["indices"][n] for n in chosen}

    files: list[tuple[str, bytes | Path]] = [
        (f"{pkg}/__init__.py", INIT_TEMPLATE.format(
            release=version, idc_version=manifest["idc_version"], builder=f"{BUILDER_NAME} {__version__}",
            version=version).encode()),
        (f"{pkg}/{MANIFEST}", (json.dumps(wheel_manifest, indent=2) + "\n").encode()),
        (f"{pkg}/release_manifest.json", (release_dir / MANIFEST).read_bytes()),
        (f"{pkg}/py.typed", b""),
    ]
    files += [(f"{pkg}/{manifest['indices'][n]['file']}", release_dir / manifest["indices"][n]["file"]) for n in chosen]
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: NCI Imaging Data Commons index release {version} (IDC v{manifest['idc_version']})\n"
        "Requires-Python: >=3.8\n"
        "License: CC-BY-4.0\n"
        "\n"
        f"Parquet indices of IDC data release v{manifest['idc_version']}: {', '.join(chosen)}.\n"
    )
    wheel_meta = f"Wheel-Version: 1.0\nGenerator: {BUILDER_NAME} {__version__}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel_meta.encode()),
              (f"{info}/top_level.txt", f"{pkg}\n".encode())]

    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{dist}-{version}-py3-none-any.whl"
    record_lines = []
    stamp = _zip_time()
    with zipfile.ZipFile(wheel, "w") as zf:
        for arcname, content in files:
            data = content.read_bytes() if isinstance(content, Path) else content
            zi = zipfile.ZipInfo(arcname, date_time=stamp)
            zi.external_attr = 0o644 << 16
            # parquet is already zstd-compressed: store it; deflate the text files
            zi.compress_type = zipfile.ZIP_STORED if arcname.endswith(".parquet") else zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
            record_lines.append(f"{arcname},{_record_hash(data)},{len(data)}")
        record_lines.append(f"{info}/RECORD,,")
        zi = zipfile.ZipInfo(f"{info}/RECORD", date_time=stamp)
        zi.external_attr = 0o644 << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(zi, "\n".join(record_lines) + "\n")

    assets = []
    for entry in manifest["indices"].values():
        assets += [entry["file"], entry["file"] + ".sha256"]
    assets += [MANIFEST, wheel.name]
    for a in assets[:-1]:
        if not (out / a).exists() or (out / a).resolve() != (release_dir / a).resolve():
            shutil.copyfile(release_dir / a, out / a)
    (out / "assets.txt").write_text("\n".join(assets) + "\n", encoding="utf-8")
    return wheel, assets
