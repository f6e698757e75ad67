"""``llmrec data fetch`` (with its GroupLens fallback) and ``llmrec data stats`` on every format."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from llmrec import assets
from llmrec.cli.main import main
from llmrec.data import catalog, load_dataset
from llmrec.data.loaders.movielens import ML100K_GENRES

FIXTURES = Path(__file__).parent / "fixtures"


def _grouplens_zip(ds) -> bytes:
    """MovieLens-100k in GroupLens' raw layout, rebuilt from the cached copy."""
    frame = ds.interactions
    data = "".join(
        f"{u}\t{i}\t{int(r)}\t{int(t)}\n"
        for u, i, r, t in zip(frame.user_id, frame.item_id, frame.rating, frame.timestamp)
    )
    items = []
    for it in ds.items.values():
        flags = "|".join("1" if g in it.genres else "0" for g in ML100K_GENRES)
        title = f"{it.title} ({it.year})" if it.year else it.title
        items.append(f"{it.item_id}|{title}|01-Jan-{it.year or ''}||http://imdb|{flags}\n")
    users = "".join(
        f"{u.user_id}|{u.attributes['age']}|{u.attributes['gender']}|"
        f"{u.attributes['occupation']}|{u.attributes['zip_code']}\n"
        for u in ds.users.values()
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ml-100k/u.data", data)
        zf.writestr("ml-100k/u.item", "".join(items).encode("latin-1"))
        zf.writestr("ml-100k/u.user", users)
    return buffer.getvalue()


def _unreachable_registry(requirement: str, dest: Path) -> Path:
    raise assets.AssetError(f"could not download {requirement!r} from the package registry")


def test_fetch_falls_back_to_grouplens(ml100k, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path))
    monkeypatch.delenv("LLMREC_RECBOLE_WHEEL", raising=False)
    archive = _grouplens_zip(ml100k)
    calls = []

    def grouplens(url: str, dest: Path) -> Path:
        calls.append(url)
        dest.write_bytes(archive)
        return dest

    folder = catalog.fetch_dataset(
        "ml-100k", wheel_downloader=_unreachable_registry, url_downloader=grouplens
    )
    assert calls == [catalog.GROUPLENS_ML100K]
    assert (folder / "u.data").is_file() and not list(folder.glob("*.inter"))
    assert assets.verify(folder, full=True) == []
    stats = load_dataset("ml-100k").stats()
    assert (stats.users, stats.items, stats.interactions) == (943, 1682, 100000)
    assert stats.name == "ml-100k"
    # Intact cache: no second download.
    catalog.fetch_dataset(
        "ml-100k", wheel_downloader=_unreachable_registry, url_downloader=grouplens
    )
    assert len(calls) == 1


def test_fetch_reports_when_both_sources_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path))
    monkeypatch.delenv("LLMREC_RECBOLE_WHEEL", raising=False)

    def offline(url: str, dest: Path) -> Path:
        raise assets.AssetError(f"could not download {url}: no route to host")

    with pytest.raises(assets.AssetError, match="files.grouplens.org"):
        catalog.fetch_dataset(
            "ml-100k", wheel_downloader=_unreachable_registry, url_downloader=offline
        )
    assert not (tmp_path / "data" / "ml-100k").exists()  # nothing half-written left behind
    with pytest.raises(ValueError, match="named datasets: \\['ml-100k'\\]"):
        catalog.fetch_dataset("ml-20m")


def _stats_json(capsys, *args: str) -> dict:
    assert main(["data", "stats", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("path", "extra", "expected"),
    [
        ("ml-100k", [], (3, 5, 9)),
        ("ml-1m/ratings.dat", [], (3, 3, 6)),
        ("amazon/All_Beauty.jsonl", [], (2, 3, 4)),
        ("table/ratings.csv", ["--column", "user_id=uid", "--column", "item_id=movie"], (2, 3, 4)),
        ("table/ratings.jsonl", [], (2, 2, 3)),
        ("recbole-toy", [], (2, 3, 3)),
    ],
)
def test_stats_cli_on_every_format(capsys, path, extra, expected):
    stats = _stats_json(capsys, str(FIXTURES / path), *extra)
    assert (stats["users"], stats["items"], stats["interactions"]) == expected
    assert set(stats["history_length_quantiles"]) == {"p0", "p25", "p50", "p75", "p90", "p100"}


def test_stats_cli_reports_skips_and_errors(capsys, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id,rating\nu1,i1,5\nu1,i2,bad\n")
    assert main(["data", "stats", str(path)]) == 2
    assert f"{path}:3: field 'rating' expected a number, got 'bad'" in capsys.readouterr().err
    stats = _stats_json(capsys, str(path), "--on-error", "skip")
    assert stats["interactions"] == 1
    assert stats["load_report"]["findings"] == {"schema": {"skip-and-report": 1}}
    assert main(["data", "stats", str(FIXTURES / "ml-100k"), "--encoding", "latin-1"]) == 2
    assert "does not apply" in capsys.readouterr().err
    assert main(["data", "stats", str(path), "--column", "user_id"]) == 2
    assert "FIELD=COLUMN" in capsys.readouterr().err


def test_synth_cli_writes_tables_that_load_back(capsys, tmp_path):
    out = tmp_path / "world"
    assert main(["data", "synth", "--users", "30", "--items", "40", "--out", str(out)]) == 0
    capsys.readouterr()
    stats = _stats_json(capsys, str(out))
    assert stats["users"] == 30 and stats["items"] == 40 and stats["rated"]
    gold = [json.loads(line) for line in (out / "gold_profiles.jsonl").read_text().splitlines()]
    assert len(gold) == 30 and gold[0]["traits"]
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    config = SyntheticConfig(**json.loads((out / "config.json").read_text()))
    again = generate_world(config)
    assert again.gold[gold[0]["user_id"]].traits() == gold[0]["traits"]


def test_stats_cli_on_a_saved_datasets_folder(capsys, tmp_path):
    from llmrec.data.loaders.hf import to_hf_dict

    to_hf_dict(load_dataset(FIXTURES / "ml-1m")).save_to_disk(str(tmp_path / "hf"))
    stats = _stats_json(capsys, str(tmp_path / "hf"))
    assert (stats["users"], stats["items"], stats["interactions"]) == (3, 3, 6)
