"""The wheel is the product: build it, install it into a fresh venv with no source tree on the
path, and run ``llmrec profile``, ``llmrec eval`` and the packaged SFT recipe from it.

Dependencies are not reinstalled: the fresh venv reaches the already installed ones through a
``.pth`` file (the role ``--system-site-packages`` plays for a system Python), and the wheel goes
in with ``--no-deps --no-index``, and the build uses the installed setuptools (the ``dev`` extra
pins it), so the test needs no network and takes well under a minute of its own (each command
below still pays torch's import).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the source (the checkout stays free of build output)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # symlinks=False copies what llmrec/recipes links to, as the sdist does.
    shutil.copytree(
        ROOT / "llmrec", src / "llmrec", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--quiet", "-w", str(dist), str(src)],
        cwd=src,
        env=dict(os.environ),
    )
    (found,) = dist.glob("llmrec-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict:
    """A fresh venv holding only the wheel; returns its bin folder, env and working folder."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root, env=dict(os.environ))
    python = root / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=root,
        env=dict(os.environ),
    ).strip()
    # The installed dependencies, after the venv's own site-packages (so the wheel wins).
    Path(purelib, "_llmrec_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps"]
        + ["--no-index", "--force-reinstall", str(wheel)],
        cwd=root,
        env=env,
    )
    work = tmp_path_factory.mktemp("work")  # not the checkout: nothing of the source is near
    return {"bin": root / "bin", "env": env, "work": work, "purelib": Path(purelib)}


def test_wheel_ships_every_prompt_and_recipe_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = {
        "llmrec/prompts/" + p.relative_to(ROOT / "llmrec" / "prompts").as_posix()
        for p in (ROOT / "llmrec" / "prompts").rglob("*.jinja")
    }
    configs = {
        "llmrec/recipes/" + p.relative_to(ROOT / "recipes").as_posix()
        for p in (ROOT / "recipes").rglob("*.yaml")
    }
    scripts = {f"llmrec/recipes/{m}.py" for m in ("sft", "dpo", "distill", "grpo", "embed")}
    assert prompts and configs
    assert prompts | configs | scripts <= names
    assert not any(n.startswith(("tests/", "docs/", "eval/")) for n in names)


def test_installed_package_is_the_wheel_not_the_checkout(venv):
    out = _run(
        [str(venv["bin"] / "python"), "-c"]
        + [
            "import llmrec, llmrec.prompts as p; print(llmrec.__file__); print(p.prompts_root()); "
            "print(len(p.available()))"
        ],
        cwd=venv["work"],
        env=venv["env"],
    )
    module, root, count = out.split()
    assert Path(module).is_relative_to(venv["purelib"])
    assert Path(root) == venv["purelib"] / "llmrec" / "prompts"
    assert int(count) == len(list((ROOT / "llmrec" / "prompts").rglob("*.v*.jinja")))


def test_profile_and_eval_run_from_the_wheel(venv):
    llmrec, work, env = str(venv["bin"] / "llmrec"), venv["work"], venv["env"]
    _run([llmrec, "data", "synth", "--users", "30", "--items", "40", "--mean-history", "8"]
         + ["--seed", "0", "--out", "world"], cwd=work, env=env)  # fmt: skip
    _run(
        [llmrec, "profile", "--data", "world", "--model", "tiny-random-llama", "--users", "3"]
        + ["--max-new-tokens", "8", "--no-cache", "--quiet", "--out", "profiles.jsonl"],
        cwd=work,
        env=env,
    )
    rows = [json.loads(line) for line in (work / "profiles.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and len({r["user_id"] for r in rows}) == 3
    assert all(r["prompt"].startswith("profile/free_text@v") for r in rows)

    suite = (
        f"name: wheel-check\n"
        f"data: {{name: {work / 'world'}}}\n"
        "split: {strategy: leave_one_out}\n"
        "protocol: {kind: full, tie: pessimistic}\n"
        "metrics: [hr@10, ndcg@10]\n"
        "statistics: {n_resamples: 50, seed: 0}\n"
        "recommenders:\n  - {type: most_popular}\n  - {type: ease, params: {l2: 10}}\n"
    )
    (work / "suite.yaml").write_text(suite)
    _run(
        [llmrec, "eval", "--suite", "suite.yaml", "--out", "evalout", "--quiet"], cwd=work, env=env
    )
    from_wheel = json.loads((work / "evalout" / "results.json").read_text())["systems"]

    from llmrec.evaluation.suite import run_suite  # the checkout, in this process

    here = run_suite(work / "suite.yaml", out_dir=work / "evalhere").results["systems"]
    assert set(from_wheel) == {"most_popular", "ease"}
    for name in from_wheel:
        for metric in ("hr@10", "ndcg@10"):
            assert from_wheel[name]["metrics"][metric] == here[name]["metrics"][metric]


def test_packaged_sft_recipe_runs_from_the_wheel(venv):
    """What the pipeline's SFT step runs: ``python -m llmrec.recipes.sft`` with a packaged YAML."""
    python, work, env = str(venv["bin"] / "python"), venv["work"], venv["env"]
    config = venv["purelib"] / "llmrec" / "recipes" / "tiny-random" / "sft" / "config_tiny.yaml"
    if not (work / "world").is_dir():
        _run([str(venv["bin"] / "llmrec"), "data", "synth", "--users", "30", "--items", "40"]
             + ["--seed", "0", "--out", "world"], cwd=work, env=env)  # fmt: skip
    _run(
        [python, "-m", "llmrec.recipes.sft", "--config", str(config), "--dataset", "world"]
        + ["--max_steps", "2", "--train_users", "8", "--eval_users", "4", "--output_dir", "sft"],
        cwd=work,
        env=env,
    )
    metrics = json.loads((work / "sft" / "eval_metrics.json").read_text())
    assert metrics["eval_users"] == 4 and metrics["train_examples"] == 8
    assert (work / "sft" / "adapter_model.safetensors").is_file()
