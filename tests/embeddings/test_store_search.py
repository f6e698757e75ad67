from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from llmrec.embeddings.search import FaissIndex, search_ids, topk
from llmrec.embeddings.store import EmbeddingTable


@pytest.mark.parametrize("suffix", [".safetensors", ".parquet"])
def test_table_roundtrip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    table = EmbeddingTable(
        [f"u{i}" for i in range(7)],
        rng.normal(size=(7, 5)).astype(np.float32),
        {"model": "m", "instruction": None},
    )
    loaded = EmbeddingTable.load(table.save(tmp_path / f"t{suffix}"))
    assert loaded.ids == table.ids
    assert np.array_equal(loaded.vectors, table.vectors)
    assert loaded.metadata == {"model": "m", "instruction": None}
    assert np.array_equal(loaded.take(["u3", "u0"]), table.vectors[[3, 0]])


def test_table_errors(tmp_path):
    with pytest.raises(ValueError, match="ids must be unique"):
        EmbeddingTable(["a", "a"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(len\(ids\)=1, dim\)"):
        EmbeddingTable(["a"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown table format '.npy'"):
        EmbeddingTable(["a"], np.zeros((1, 3))).save(tmp_path / "x.npy")
    with pytest.raises(KeyError, match="ids not in the table"):
        EmbeddingTable(["a"], np.zeros((1, 3))).take(["b"])


def _brute(q, keys, k, metric, excl):
    if metric == "cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        keys = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    scores = q @ keys.T
    scores = np.where(excl, -np.inf, scores)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


@pytest.mark.parametrize("metric", ["cosine", "dot"])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_topk_equals_brute_force(metric, chunk):
    rng = np.random.default_rng(3)
    q = rng.normal(size=(23, 16)).astype(np.float32)
    keys = rng.normal(size=(101, 16)).astype(np.float32)
    excl = rng.random((23, 101)) < 0.2
    scores, index = topk(q, keys, k=10, metric=metric, exclude=csr_matrix(excl), chunk_size=chunk)
    ref_scores, ref_index = _brute(q.astype(np.float64), keys.astype(np.float64), 10, metric, excl)
    assert np.array_equal(index, ref_index)  # continuous random scores: no ties
    assert np.allclose(scores, ref_scores, atol=1e-5)
    assert not excl[np.arange(23)[:, None], index].any()
    # list-of-arrays exclusions give the same result as the sparse matrix
    lists = [np.flatnonzero(row) for row in excl]
    _, index2 = topk(q, keys, k=10, metric=metric, exclude=lists, chunk_size=chunk)
    assert np.array_equal(index, index2)


def test_topk_k_larger_than_keys_and_ids():
    keys = np.eye(3, dtype=np.float32)
    scores, index = topk(
        np.array([[0.0, 2.0, 1.0]], np.float32), keys, k=5, metric="dot", exclude=[[1]]
    )
    assert index.tolist() == [[2, 0, 1]]
    assert scores[0, 2] == -np.inf
    assert search_ids(np.array([[0.0, 2.0, 1.0]], np.float32), keys, ["a", "b", "c"], k=2) == [
        [("b", pytest.approx(0.8944272)), ("c", pytest.approx(0.4472136))]
    ]
    with pytest.raises(ValueError, match="unknown metric 'l2'"):
        topk(keys, keys, metric="l2")


def test_faiss_index_matches_topk_or_explains_the_extra():
    rng = np.random.default_rng(0)
    keys = rng.normal(size=(50, 8)).astype(np.float32)
    q = rng.normal(size=(5, 8)).astype(np.float32)
    try:
        import faiss  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'llmrec\[faiss\]'"):
            FaissIndex(keys)
        return
    _, index = FaissIndex(keys).search(q, 5)
    assert np.array_equal(index, topk(q, keys, k=5)[1])


def test_safetensors_tables_are_byte_deterministic(tmp_path):
    """Two processes writing one table write the same bytes (header keys sorted)."""
    import subprocess
    import sys

    code = (
        "import numpy as np, sys; from llmrec.embeddings.store import EmbeddingTable; "
        "EmbeddingTable(['a', 'b'], np.eye(2, dtype=np.float32), {'model': 'm', 'k': 1})"
        ".save(sys.argv[1])"
    )
    paths = [tmp_path / f"t{i}.safetensors" for i in range(4)]
    for p in paths:
        subprocess.run([sys.executable, "-c", code, str(p)], check=True)
    assert len({p.read_bytes() for p in paths}) == 1
    table = EmbeddingTable.load(paths[0])
    assert table.ids == ["a", "b"] and table.metadata == {"model": "m", "k": 1}
    np.testing.assert_array_equal(table.vectors, np.eye(2, dtype=np.float32))
