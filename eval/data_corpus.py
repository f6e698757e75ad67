"""A corpus of malformed dataset files, written outside the repository, and its expected outcomes.

Every case is a small dataset in one of the formats (MovieLens ml-100k / ml-1m / CSV release,
RecBole atomic, Amazon JSON Lines, CSV / TSV, JSON Lines, Parquet) broken in one way that the
test suite does not use (other values, other files, other positions). For each case the corpus
records what ``llmrec data check`` must do: its exit status (0 loaded, 1 errors), the class of
finding it must name, and a phrase the report must contain.

Usage::

    python eval/data_corpus.py --out /work/malformed-corpus          # write the corpus
    python eval/data_corpus.py --out /work/malformed-corpus --run    # and check every case

``--run`` runs ``llmrec data check CASE --json`` (in this process, through the CLI's ``main``;
``--subprocess`` starts ``python -m llmrec`` per case instead), prints one line per case and
ends with one line of JSON: ``{"cases": n, "hits": h, "hit_rate": h / n, "misses": [...]}``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

T0 = 1_262_304_000  # 2010-01-01
RATINGS = [
    ("7", "101", 3, T0),
    ("7", "102", 4, T0 + 60),
    ("7", "103", 2, T0 + 120),
    ("8", "101", 5, T0 + 180),
    ("8", "104", 1, T0 + 240),
    ("9", "102", 4, T0 + 300),
    ("9", "103", 3, T0 + 360),
    ("9", "104", 5, T0 + 420),
]
MOVIES = {
    "101": ("Metropolis", 1927, "Sci-Fi"),
    "102": ("Rashomon", 1950, "Drama"),
    "103": ("Stalker", 1979, "Drama"),
    "104": ("Le Samouraï", 1967, "Crime"),
}
PEOPLE = {"7": (31, "F"), "8": (45, "M"), "9": (27, "F")}


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding))
    return path


# -- valid datasets --------------------------------------------------------------------------------
def ml100k(folder: Path, rows=RATINGS) -> Path:
    flags = lambda: "|".join("0" * 19)  # noqa: E731
    _write(folder / "u.data", [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in rows])
    _write(
        folder / "u.item",
        [f"{i}|{t} ({y})|01-Jan-{y}||http://imdb/{i}|{flags()}" for i, (t, y, _) in MOVIES.items()],
    )
    _write(folder / "u.user", [f"{u}|{a}|{g}|writer|1000{u}" for u, (a, g) in PEOPLE.items()])
    return folder


def ml1m(folder: Path, rows=RATINGS) -> Path:
    _write(folder / "ratings.dat", [f"{u}::{i}::{r}::{t}" for u, i, r, t in rows])
    _write(folder / "movies.dat", [f"{i}::{t} ({y})::{g}" for i, (t, y, g) in MOVIES.items()])
    _write(folder / "users.dat", [f"{u}::{g}::35::7::1000{u}" for u, (_, g) in PEOPLE.items()])
    return folder


def mlcsv(folder: Path, rows=RATINGS) -> Path:
    _write(
        folder / "ratings.csv",
        ["userId,movieId,rating,timestamp"] + [f"{u},{i},{r - 0.5},{t}" for u, i, r, t in rows],
    )
    _write(
        folder / "movies.csv",
        ["movieId,title,genres"] + [f"{i},{t} ({y}),{g}" for i, (t, y, g) in MOVIES.items()],
    )
    return folder


def recbole(folder: Path, rows=RATINGS) -> Path:
    name = folder.name
    _write(
        folder / f"{name}.inter",
        ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
        + [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in rows],
    )
    _write(
        folder / f"{name}.item",
        ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
        + [f"{i}\t{t}\t{y}\t{g}" for i, (t, y, g) in MOVIES.items()],
    )
    _write(
        folder / f"{name}.user",
        ["user_id:token\tage:token\tgender:token"]
        + [f"{u}\t{a}\t{g}" for u, (a, g) in PEOPLE.items()],
    )
    return folder


def amazon(folder: Path, rows=RATINGS) -> Path:
    reviews = _write(
        folder / "Books.jsonl",
        [
            json.dumps(
                {
                    "user_id": f"AU{u}",
                    "parent_asin": f"P{i}",
                    "rating": float(r),
                    "timestamp": t * 1000,
                    "title": "fine",
                    "text": "a read",
                }
            )
            for u, i, r, t in rows
        ],
    )
    _write(
        folder / "meta_Books.jsonl",
        [
            json.dumps({"parent_asin": f"P{i}", "title": t, "categories": [g]})
            for i, (t, _, g) in MOVIES.items()
        ],
    )
    return reviews


def table(folder: Path, kind: str, rows=RATINGS) -> Path:
    import pandas as pd

    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    items = pd.DataFrame(
        [(i, t, y) for i, (t, y, _) in MOVIES.items()], columns=["item_id", "title", "year"]
    )
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("interactions", inter), ("items", items)):
        path = folder / f"{name}.{kind}"
        if kind == "csv":
            frame.to_csv(path, index=False)
        elif kind == "jsonl":
            frame.to_json(path, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(path, index=False)
    return folder


# -- the cases --------------------------------------------------------------------------------------
def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise ValueError(f"{path}: {old!r} not found")
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _gzip_in_place(path: Path) -> None:
    path.write_bytes(gzip.compress(path.read_bytes()))


def _loop(path: Path) -> None:
    path.unlink()
    os.symlink(path.name, path)


def _as_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


Case = tuple[str, Callable[[Path], Path], dict, list[str]]


def cases() -> list[Case]:
    """``(name, build(folder) -> path to check, expected, extra CLI flags)``."""

    def c(build: Callable[[Path], Path], exit_code: int, cls: str | None, says: str):
        return build, {"exit": exit_code, "class": cls, "says": says}

    out: list[Case] = []

    def add(name, build, exit_code, cls, says, flags=()):
        out.append((name, *c(build, exit_code, cls, says), list(flags)))

    # Domains
    def ml100k_rating_zero(f):
        ml100k(f)
        _replace(f / "u.data", "\t3\t", "\t0\t")
        return f

    add("ml100k-rating-0", ml100k_rating_zero, 1, "rating_range", "outside the rating scale 1..5")

    def ml100k_half_star(f):
        ml100k(f)
        _replace(f / "u.data", "\t4\t", "\t4.5\t")
        return f

    add("ml100k-half-star", ml100k_half_star, 1, "rating_range", "in steps of 1")

    def ml1m_rating_55(f):
        ml1m(f)
        _replace(f / "ratings.dat", "::5::", "::5.5::")
        return f

    add("ml1m-rating-5.5", ml1m_rating_55, 1, "rating_range", "5.5 is outside")

    def amazon_rating_10(f):
        path = amazon(f)
        _replace(path, '"rating": 5.0', '"rating": 10.0')
        return path

    add("amazon-rating-10", amazon_rating_10, 1, "rating_range", "10 is outside")

    def mlcsv_rating_6(f):
        mlcsv(f)
        _replace(f / "ratings.csv", ",4.5,", ",6.0,")
        return f

    add("mlcsv-rating-6", mlcsv_rating_6, 1, "rating_range", "0.5..5 in steps of 0.5")

    def csv_rating_declared(f):
        return table(f, "csv")

    add(
        "csv-rating-vs-declared-scale",
        csv_rating_declared,
        1,
        "rating_range",
        "outside the rating scale 2..4",
        ["--rating-scale", "2,4"],
    )

    def csv_iso_2999(f):
        table(f, "csv")
        _replace(f / "interactions.csv", str(T0 + 60), "2999-05-01T10:00:00")
        return f

    add("csv-iso-year-2999", csv_iso_2999, 1, "timestamp_range", "2999-05-01")

    def ml1m_ms(f):
        ml1m(f, [(u, i, r, t * 1000) for u, i, r, t in RATINGS])
        return f

    add("ml1m-milliseconds", ml1m_ms, 0, "timestamp_unit", "plausible as milliseconds")

    def recbole_negative(f):
        recbole(f)
        _replace(f / f"{f.name}.inter", str(T0 + 240), "-1000")
        return f

    add("recbole-negative-time", recbole_negative, 1, "timestamp_range", "1969-12-31")

    def amazon_far_future(f):
        path = amazon(f)
        _replace(path, str((T0 + 300) * 1000), str(4102444800 * 1000 * 3))
        return path

    add("amazon-far-future", amazon_far_future, 1, "timestamp_range", "outside the plausible")

    def ml100k_blank_time(f):
        ml100k(f)
        _replace(f / "u.data", f"\t{T0 + 420}", "\t")
        return f

    add("ml100k-blank-timestamp", ml100k_blank_time, 1, "missing_value", "required")

    def amazon_no_time(f):
        path = amazon(f)
        _replace(path, f', "timestamp": {(T0 + 180) * 1000}', "")
        return path

    add("amazon-no-timestamp", amazon_no_time, 1, "missing_value", "required by this format")

    def jsonl_ms_seconds(f):
        table(f, "jsonl", [(u, i, r, t * 1000) for u, i, r, t in RATINGS])
        return f

    add("jsonl-milliseconds", jsonl_ms_seconds, 0, "timestamp_unit", "as milliseconds")

    # Nothing to load
    def ml100k_empty(f):
        ml100k(f)
        (f / "u.data").write_bytes(b"")
        return f

    add("ml100k-empty-udata", ml100k_empty, 1, "empty", "holds no interactions")

    def recbole_header_only(f):
        recbole(f)
        inter = f / f"{f.name}.inter"
        inter.write_text(inter.read_text().split("\n")[0] + "\n")
        return f

    add("recbole-header-only", recbole_header_only, 1, "empty", "a dataset needs interactions")

    def jsonl_blank_lines(f):
        table(f, "jsonl")
        (f / "interactions.jsonl").write_text("\n  \n\n")
        return f

    add("jsonl-only-blank-lines", jsonl_blank_lines, 1, "empty", "holds no interactions")

    def parquet_zero_rows(f):
        import pandas as pd

        table(f, "parquet")
        pd.read_parquet(f / "interactions.parquet").iloc[:0].to_parquet(f / "interactions.parquet")
        return f

    add("parquet-zero-rows", parquet_zero_rows, 1, "empty", "holds no interactions")

    def ml1m_movies_empty(f):
        ml1m(f)
        (f / "movies.dat").write_bytes(b"")
        return f

    add("ml1m-movies-dat-empty", ml1m_movies_empty, 1, "missing_item_file", "has no item rows")

    def amazon_meta_empty(f):
        path = amazon(f)
        (f / "meta_Books.jsonl").write_text("")
        return path

    add("amazon-meta-empty", amazon_meta_empty, 1, "missing_item_file", "has no item rows")

    def csv_items_header_only(f):
        table(f, "csv")
        (f / "items.csv").write_text("item_id,title,year\n")
        return f

    add("csv-items-header-only", csv_items_header_only, 1, "missing_item_file", "no item rows")

    def all_bad_skip(f):
        table(f, "csv")
        text = (f / "interactions.csv").read_text().split("\n")
        rows = [text[0]] + [line.replace(",", ";") for line in text[1:] if line]
        (f / "interactions.csv").write_text("\n".join(rows) + "\n")
        return f

    add(
        "csv-skip-leaves-nothing",
        all_bad_skip,
        1,
        "empty",
        "no interactions left",
        ["--on-error", "skip"],
    )

    # References and duplicates
    def ml1m_dup_movie(f):
        ml1m(f)
        with open(f / "movies.dat", "a", encoding="utf-8") as handle:
            handle.write("103::Solaris (1972)::Drama\n")
        return f

    add("ml1m-duplicate-movie-id", ml1m_dup_movie, 1, "duplicate_item", "also on line 3")

    def recbole_dup_item_fix(f):
        recbole(f)
        with open(f / f"{f.name}.item", "a", encoding="utf-8") as handle:
            handle.write("102\tIkiru\t1952\tDrama\n")
        return f

    add(
        "recbole-duplicate-item-fix",
        recbole_dup_item_fix,
        0,
        "duplicate_item",
        "keeps line 3",
        ["--policy", "duplicate_item=fix"],
    )

    def jsonl_dup_item(f):
        table(f, "jsonl")
        with open(f / "items.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"item_id": "104", "title": "Le Cercle rouge"}) + "\n")
        return f

    add("jsonl-duplicate-item-id", jsonl_dup_item, 1, "duplicate_item", "different fields")

    def ml1m_unknown_user(f):
        ml1m(f)
        lines = (f / "users.dat").read_text().split("\n")
        (f / "users.dat").write_text("\n".join(lines[:2]) + "\n")
        return f

    add("ml1m-user-not-in-users-dat", ml1m_unknown_user, 1, "unknown_user", "user '9'")

    def recbole_unknown_user(f):
        recbole(f)
        user = f / f"{f.name}.user"
        _replace(user, "8\t45\tM\n", "")
        return f

    add("recbole-user-not-in-user-file", recbole_unknown_user, 1, "unknown_user", "user '8'")

    def csv_unknown_item(f):
        table(f, "csv")
        with open(f / "interactions.csv", "a", encoding="utf-8") as handle:
            handle.write(f"8,999,3,{T0 + 999}\n")
        return f

    add("csv-unknown-item", csv_unknown_item, 1, "unknown_item", "item '999'")

    def ml1m_no_movies(f):
        ml1m(f)
        (f / "movies.dat").unlink()
        return f

    add("ml1m-no-movies-dat", ml1m_no_movies, 1, "missing_item_file", "is missing")

    def amazon_no_meta(f):
        path = amazon(f)
        (f / "meta_Books.jsonl").unlink()
        return path

    add("amazon-no-meta", amazon_no_meta, 1, "missing_item_file", "meta_Books.jsonl")

    def mlcsv_no_movies(f):
        mlcsv(f)
        (f / "movies.csv").unlink()
        return f

    add("mlcsv-no-movies-csv", mlcsv_no_movies, 1, "missing_item_file", "movies.csv")

    # Ids
    def jsonl_big_ids(f):
        rows = [(str(2**64 + 1), i, r, t) for _, i, r, t in RATINGS[:4]]
        rows += [(str(2**64 + 2), i, r, t) for _, i, r, t in RATINGS[4:]]
        table(f, "jsonl", rows)
        path = f / "interactions.jsonl"
        path.write_text(
            path.read_text()
            .replace(f'"{2**64 + 1}"', str(2**64 + 1))
            .replace(f'"{2**64 + 2}"', str(2**64 + 2))
        )
        return f

    add("jsonl-ids-beyond-64-bits", jsonl_big_ids, 0, None, '"users": 2')

    def parquet_float_ids(f):
        import pandas as pd

        table(f, "parquet")
        frame = pd.read_parquet(f / "interactions.parquet")
        frame["user_id"] = [2.0**62 + 2048 * k for k in range(len(frame))]
        frame.to_parquet(f / "interactions.parquet")
        return f

    add("parquet-float-ids-2^62", parquet_float_ids, 1, "lossy_id", "beyond 2**53")

    # Encoding and framing
    def recbole_bom(f):
        recbole(f)
        inter = f / f"{f.name}.inter"
        inter.write_bytes(b"\xef\xbb\xbf" + inter.read_bytes())
        return f

    add("recbole-bom", recbole_bom, 0, "encoding", "BOM")

    def mlcsv_bom(f):
        mlcsv(f)
        for name in ("ratings.csv", "movies.csv"):
            (f / name).write_bytes(b"\xef\xbb\xbf" + (f / name).read_bytes())
        return f

    add("mlcsv-bom-both-files", mlcsv_bom, 0, "encoding", "BOM")

    def udata_bom(f):
        ml100k(f)
        (f / "u.data").write_bytes(b"\xef\xbb\xbf" + (f / "u.data").read_bytes())
        return f

    add("ml100k-bom-udata", udata_bom, 0, "encoding", "BOM")

    def ml1m_gzip(f):
        ml1m(f)
        _gzip_in_place(f / "ratings.dat")
        return f

    add("ml1m-ratings-gzip-plain-name", ml1m_gzip, 0, "encoding", "gzip")

    def jsonl_gzip(f):
        table(f, "jsonl")
        _gzip_in_place(f / "items.jsonl")
        return f

    add("jsonl-items-gzip-plain-name", jsonl_gzip, 0, "encoding", "gzip")

    def parquet_gzip(f):
        table(f, "parquet")
        _gzip_in_place(f / "interactions.parquet")
        return f

    add("parquet-gzipped", parquet_gzip, 1, None, "gzip")

    def gz_truncated(f):
        f.mkdir(parents=True)
        data = "user_id,item_id\n" + "".join(f"u{k},i{k % 7}\n" for k in range(400))
        (f / "ratings.csv.gz").write_bytes(gzip.compress(data.encode())[:-25])
        return f / "ratings.csv.gz"

    add("csv-gz-truncated", gz_truncated, 1, None, "gzip stream is truncated")

    def ml100k_item_dir(f):
        ml100k(f)
        _as_dir(f / "u.item")
        return f

    add("ml100k-u.item-is-a-directory", ml100k_item_dir, 1, None, "is a directory")

    def ml1m_movies_loop(f):
        ml1m(f)
        _loop(f / "movies.dat")
        return f

    add("ml1m-movies.dat-symlink-loop", ml1m_movies_loop, 1, None, "symlink loop")

    def jsonl_inter_loop(f):
        f.mkdir(parents=True)
        os.symlink("interactions.jsonl", f / "interactions.jsonl")
        return f / "interactions.jsonl"

    add("jsonl-file-symlink-loop", jsonl_inter_loop, 1, None, "symlink loop")

    def csv_latin1(f):
        table(f, "csv")
        items = f / "items.csv"
        items.write_bytes(items.read_text(encoding="utf-8").encode("latin-1"))
        return f

    add("csv-latin1-items", csv_latin1, 1, "schema", "is not utf-8 text")

    def tsv_utf16(f):
        f.mkdir(parents=True)
        text = "user_id\titem_id\n" + "".join(f"{u}\t{i}\n" for u, i, _, _ in RATINGS)
        (f / "r.tsv").write_bytes(text.encode("utf-16"))
        return f / "r.tsv"

    add("tsv-utf16", tsv_utf16, 1, "schema", "is not utf-8 text")

    # Field-level errors
    def udata_short_line(f):
        ml100k(f)
        with open(f / "u.data", "a") as handle:
            handle.write("8\t103\t4\n")
        return f

    add("ml100k-u.data-short-line", udata_short_line, 1, "schema", "missing 'timestamp'")

    def uuser_short_line(f):
        ml100k(f)
        _replace(f / "u.user", "|writer|10008", "")
        return f

    add("ml100k-u.user-short-line", uuser_short_line, 1, "schema", "missing 'occupation'")

    def ratings_dat_extra(f):
        ml1m(f)
        _replace(f / "ratings.dat", f"::{T0 + 60}", f"::{T0 + 60}::x")
        return f

    add("ml1m-ratings.dat-extra-field", ratings_dat_extra, 1, "schema", "1 more than")

    def tsv_bad_rating(f):
        f.mkdir(parents=True)
        text = "user_id\titem_id\trating\n" + "u1\ti1\t4\nu1\ti2\tfour\n"
        (f / "r.tsv").write_text(text)
        return f / "r.tsv"

    add("tsv-rating-not-a-number", tsv_bad_rating, 1, "schema", "expected a number, got 'four'")

    def jsonl_repeated_key(f):
        table(f, "jsonl")
        path = f / "interactions.jsonl"
        lines = path.read_text().split("\n")
        lines[3] = lines[3].replace('{"user_id":', '{"item_id":"101","user_id":', 1)
        path.write_text("\n".join(lines))
        return f

    add("jsonl-key-twice", jsonl_repeated_key, 1, "schema", "appears twice")

    def csv_stray_quote(f):
        f.mkdir(parents=True)
        (f / "r.csv").write_text('user_id,item_id,rating\n7,"101,3\n8,102,4\n9,103,5\n')
        return f / "r.csv"

    add("csv-stray-quote", csv_stray_quote, 1, None, "stray quote")

    def recbole_long_title(f):
        recbole(f)
        _replace(f / f"{f.name}.item", "Stalker", "Stalker " + "zona " * 40000)
        return f

    add("recbole-200kb-title", recbole_long_title, 0, None, '"errors": 0')

    def amazon_not_object(f):
        path = amazon(f)
        with open(path, "a") as handle:
            handle.write('["AU7", "P101", 3.0]\n')
        return path

    add("amazon-line-not-an-object", amazon_not_object, 1, "schema", "expected a JSON object")
    return out


def write_corpus(out: Path) -> list[dict]:
    """Write every case under ``out/<name>/`` and ``out/expected.json``; return the manifest."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest = []
    for name, build, expected, flags in cases():
        path = build(out / name / "data")
        manifest.append({"name": name, "path": str(path), "flags": flags, "expected": expected})
    (out / "expected.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def check(case: dict, use_subprocess: bool) -> tuple[int, str]:
    """``llmrec data check PATH FLAGS --json``: exit status and output."""
    argv = ["data", "check", case["path"], *case["flags"], "--json"]
    if use_subprocess:
        done = subprocess.run(
            [sys.executable, "-m", "llmrec", *argv], capture_output=True, text=True, timeout=300
        )
        return done.returncode, done.stdout + done.stderr
    from llmrec.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


def hit(case: dict, code: int, output: str) -> bool:
    expected = case["expected"]
    if code != expected["exit"] or expected["says"] not in output:
        return False
    cls = expected["class"]
    return cls is None or f'"{cls}"' in output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for the corpus (outside the repo)")
    parser.add_argument("--run", action="store_true", help="run llmrec data check on each case")
    parser.add_argument("--subprocess", action="store_true", help="one process per case")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    repo = Path(__file__).resolve().parents[1]
    if out == repo or repo in out.parents:
        parser.error(f"{out} is inside the repository; the corpus must live outside it")
    manifest = write_corpus(out)
    print(f"wrote {len(manifest)} cases to {out}", file=sys.stderr)
    if not args.run:
        return 0
    misses = []
    for case in manifest:
        code, output = check(case, args.subprocess)
        ok = hit(case, code, output)
        print(f"{'hit ' if ok else 'MISS'} {case['name']}: exit {code}", file=sys.stderr)
        if not ok:
            misses.append({"name": case["name"], "exit": code, "output": output[-400:]})
    hits = len(manifest) - len(misses)
    summary = {
        "cases": len(manifest),
        "hits": hits,
        "hit_rate": round(hits / len(manifest), 4),
        "misses": misses,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
