"""Imports point one way: every module's llmrec imports, read with ``ast`` (including the ones
inside functions and ``importlib.import_module("llmrec...")`` calls), follow the layer table.

The table is the contract; the diagram in README.md ("Concepts and layout") and
docs/architecture.md say the same. A package may import from any layer below its own and from
itself. Inside a layer, packages marked ``siblings`` may not import each other; the others may.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top: (layer, packages of llmrec, siblings?).
LAYERS: list[tuple[str, frozenset[str], bool]] = [
    ("leaf helpers", frozenset({"paths", "assets", "control_tokens"}), False),
    ("foundation", frozenset({"data", "metrics"}), True),
    ("utilities", frozenset({"models", "prompts"}), False),
    ("backends", frozenset({"backends"}), True),
    ("user context and scoring", frozenset({"context"}), True),
    ("LLM features", frozenset({"profiles", "judge", "embeddings"}), True),
    ("evaluation and training", frozenset({"evaluation", "training"}), True),
    ("pipeline and engines", frozenset({"pipeline", "engines"}), True),
    ("entry points", frozenset({"cli", "recipes"}), True),
    ("python -m llmrec", frozenset({"__main__"}), True),
]
LEVEL = {pkg: i for i, (_, pkgs, _) in enumerate(LAYERS) for pkg in pkgs}
SIBLINGS = {pkg: siblings for _, pkgs, siblings in LAYERS for pkg in pkgs}


def package_files() -> list[Path]:
    """Every ``.py`` file of the package, following the ``llmrec/recipes`` link."""
    files = []
    for folder, _, names in os.walk(ROOT / "llmrec", followlinks=True):
        files += [Path(folder, n) for n in names if n.endswith(".py")]
    return sorted(files)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every llmrec import in ``path``, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from llmrec import data` imports the package llmrec.data.
            names = [f"{module}.{a.name}" for a in node.names] if module == "llmrec" else [module]
            found += [(node.lineno, name) for name in names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return [(line, m) for line, m in found if m == "llmrec" or m.startswith("llmrec.")]


def layer_of(module: str) -> str | None:
    """The top package of an llmrec module (``llmrec.judge.pointwise`` -> ``judge``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations() -> list[tuple[str, int, str, str]]:
    """``(file, line, imported module, why)`` for every import against the table."""
    out = []
    for path in package_files():
        rel = path.relative_to(ROOT).as_posix()
        source = layer_of(module_name(path))
        for line, module in imports_of(path):
            target = layer_of(module)
            if source is None:
                why = "llmrec/__init__.py imports nothing of llmrec (import llmrec stays fast)"
            elif target is None or target == source:
                continue
            elif source not in LEVEL or target not in LEVEL:
                why = f"{source if source not in LEVEL else target!r} is in no layer of the table"
            elif LEVEL[target] > LEVEL[source]:
                why = f"upward: {source} ({LAYERS[LEVEL[source]][0]}) -> {target}"
            elif LEVEL[target] == LEVEL[source] and SIBLINGS[source]:
                why = f"sideways between siblings {source} and {target}"
            else:
                continue
            out.append((rel, line, module, why))
    return out


def test_every_package_is_in_the_table():
    packages = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "llmrec").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    missing = packages - set(LEVEL)
    assert not missing, f"add {sorted(missing)} to LAYERS (and to the README diagram)"


def test_imports_point_one_way():
    lines = [f"{f}:{line}: imports {m}: {why}" for f, line, m, why in violations()]
    assert not lines, "imports against the layers:\n" + "\n".join(lines)


def test_the_checker_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The walker is what the test rests on: an upward import hidden in a function is found."""
    fake = tmp_path / "llmrec" / "data"
    fake.mkdir(parents=True)
    (tmp_path / "llmrec" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "x.py").write_text(
        "def f():\n    from llmrec.judge import pointwise\n"
        "    from ..backends import base\n"
        "    import importlib\n    importlib.import_module('llmrec.cli.main')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = sorted((line, m) for _, line, m, _ in violations())
    assert found == [(2, "llmrec.judge"), (3, "llmrec.backends"), (5, "llmrec.cli.main")]
