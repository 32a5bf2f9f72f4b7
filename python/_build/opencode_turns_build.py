"""The build backend of the ``opencode-turns`` Python distribution (PEP 517 and PEP 660).

Standard library only, so ``pip install ./python`` needs no package index. The wheel holds one
module, ``opencode_turns.py``; built from a checkout of opencode-turns, its copy of the module
remembers that checkout (``_BUILT_FROM``) so it can find the checkout's built bridge from
anywhere. An editable install puts this folder on ``sys.path`` instead.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

SOURCE = Path(__file__).resolve().parent.parent
MODULE = "opencode_turns.py"
PROJECT = "opencode-turns"
DIST = "opencode_turns"
SUMMARY = "Drive opencode turns from asyncio: a drop-in OpenCodeAdapter over the opencode-turns bridge."
REQUIRES_PYTHON = ">=3.9"
TAG = "py3-none-any"
#: Files of the source tree an sdist carries (enough to build the wheel again).
SDIST_FILES = ("pyproject.toml", MODULE, "README.md", "_build/opencode_turns_build.py")


def _version() -> str:
    found = re.search(r'^__version__ = "([^"]+)"$', (SOURCE / MODULE).read_text("utf-8"), re.M)
    if found is None:
        raise RuntimeError(f"{MODULE} has no __version__")
    return found.group(1)


def _metadata() -> str:
    readme = (SOURCE / "README.md").read_text("utf-8")
    fields = [
        ("Metadata-Version", "2.1"),
        ("Name", PROJECT),
        ("Version", _version()),
        ("Summary", SUMMARY),
        ("License", "MIT"),
        ("Requires-Python", REQUIRES_PYTHON),
        ("Classifier", "Framework :: AsyncIO"),
        ("Classifier", "License :: OSI Approved :: MIT License"),
        ("Classifier", "Programming Language :: Python :: 3"),
        ("Description-Content-Type", "text/markdown"),
    ]
    return "".join(f"{key}: {value}\n" for key, value in fields) + "\n" + readme


def _checkout() -> Optional[Path]:
    """The opencode-turns checkout (or npm package) this folder is part of, if it is one."""
    root = SOURCE.parent
    try:
        manifest = json.loads((root / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return root if isinstance(manifest, dict) and manifest.get("name") == PROJECT else None


def _module_text() -> str:
    text = (SOURCE / MODULE).read_text("utf-8")
    checkout = _checkout()
    if checkout is None:
        return text
    marked = "_BUILT_FROM: Optional[str] = None"
    if marked not in text:
        raise RuntimeError(f"{MODULE} has no line {marked!r}")
    return text.replace(marked, f"_BUILT_FROM: Optional[str] = {str(checkout)!r}", 1)


def _wheel_name() -> str:
    return f"{DIST}-{_version()}-{TAG}.whl"


def _dist_info() -> str:
    return f"{DIST}-{_version()}.dist-info"


def _epoch() -> int:
    # Reproducible: SOURCE_DATE_EPOCH when set, else the zip format's earliest date (1980-01-01).
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return max(int(epoch), 315532800) if epoch.isdigit() else 315532800


def _timestamp() -> Tuple[int, int, int, int, int, int]:
    return tuple(time.gmtime(_epoch())[:6])  # type: ignore[return-value]


def _write_wheel(directory: str, files: Dict[str, bytes]) -> str:
    info = _dist_info()
    files = dict(files)
    files[f"{info}/METADATA"] = _metadata().encode("utf-8")
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: opencode_turns_build\nRoot-Is-Purelib: true\n" f"Tag: {TAG}\n"
    ).encode("utf-8")
    record: List[str] = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode("utf-8")
    name = _wheel_name()
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, _timestamp())
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return name


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory, {MODULE: _module_text().encode("utf-8")})


def build_editable(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    # The module is imported from this folder itself: edits take effect, and the checkout is found
    # as the one it sits in.
    return _write_wheel(wheel_directory, {f"{DIST}.pth": (str(SOURCE) + "\n").encode("utf-8")})


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    base = f"{DIST}-{_version()}"
    name = f"{base}.tar.gz"
    mtime = _epoch()
    members = [(f"{base}/PKG-INFO", _metadata().encode("utf-8"))]
    members += [(f"{base}/{path}", (SOURCE / path).read_bytes()) for path in SDIST_FILES]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        for path, data in members:
            entry = tarfile.TarInfo(path)
            entry.size, entry.mtime, entry.mode = len(data), mtime, 0o644
            sdist.addfile(entry, io.BytesIO(data))
    return name
