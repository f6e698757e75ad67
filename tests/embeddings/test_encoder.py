from __future__ import annotations

import numpy as np
import pytest

from llmrec.embeddings.encoder import UserEncoder, history_mean
from llmrec.embeddings.fusion import FusionAdapter
from llmrec.embeddings.instructions import instruction_prefix
from llmrec.embeddings.sources import HistoryFitter, history_lines, join_sources, user_sources
from llmrec.embeddings.store import EmbeddingTable


def test_history_is_recent_first_and_fits_the_budget(ml100k_split, minilm):
    train = ml100k_split.train
    texts = user_sources(train, ["1", "2"], tokenizer=minilm.tokenizer, max_history_tokens=40)
    last = train.history("1")[-1]
    assert texts["history"][0].startswith(train.items[last.item_id].title)
    for text in texts["history"]:
        n = len(minilm.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert 0 < n <= 40
        assert text.endswith(("rated 1", "rated 2", "rated 3", "rated 4", "rated 5"))  # whole items
    lines = history_lines(train, "1")
    fitted = HistoryFitter(minilm.tokenizer, 40).fit(lines)
    assert fitted == texts["history"][0]
    assert "; ".join(lines).startswith(fitted)
    assert texts["attributes"][0] == "age: 24; gender: male; occupation: technician"
    joined = join_sources(texts)[0]
    assert joined.startswith("Attributes: age: 24") and "\nHistory (most recent first): " in joined


def test_sources_errors(ml100k_split):
    with pytest.raises(ValueError, match="unknown sources \\['clicks'\\]"):
        user_sources(ml100k_split.train, ["1"], sources=("clicks",))
    with pytest.raises(ValueError, match="no profiles were given"):
        user_sources(ml100k_split.train, ["1"], sources=("profile",))


def test_instruction_goes_in_as_the_prompt(minilm):
    encoder = UserEncoder(minilm)
    texts = ["History: Star Wars (1977; Action, Sci-Fi) rated 5", "History: Fargo (1996; Crime)"]
    instruction = "What is the gender of this user?"
    got = encoder.encode_texts(texts + texts[:1], instruction)
    prefix = instruction_prefix(instruction)
    assert prefix == "Instruct: What is the gender of this user?\nUser: "
    ref = minilm.encode([prefix + t for t in texts], normalize_embeddings=True)
    assert np.allclose(got[:2], ref, atol=1e-5)
    assert np.array_equal(got[2], got[0])  # duplicates are encoded once and copied
    per_text = encoder.encode_texts(texts, [instruction, None])
    assert np.allclose(per_text[0], ref[0], atol=1e-5)
    assert np.allclose(
        per_text[1], minilm.encode([texts[1]], normalize_embeddings=True)[0], atol=1e-5
    )
    assert not np.allclose(encoder.encode_texts(texts[:1]), ref[:1], atol=1e-3)


def test_fused_users_and_masked_sources(ml100k_split, tiny_st):
    train = ml100k_split.train
    fusion = FusionAdapter(tiny_st.get_embedding_dimension(), ("attributes", "history"))
    encoder = UserEncoder(tiny_st, fusion=fusion, max_history_tokens=24)
    table = encoder.encode_users(
        train, ["1", "2", "3"], instruction="Which movie will this user watch next?"
    )
    assert table.vectors.shape == (3, 64)
    assert np.allclose(np.linalg.norm(table.vectors, axis=1), 1.0, atol=1e-5)
    texts = encoder.user_texts(train, ["1", "2", "3"])
    a = encoder.encode_texts(texts["attributes"], "Which movie will this user watch next?")
    h = encoder.encode_texts(texts["history"], "Which movie will this user watch next?")
    mean = (a + h) / 2  # an untrained adapter averages the sources
    assert np.allclose(table.vectors, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-5)
    texts["attributes"] = ["", "", ""]  # withheld source: the user is its history alone
    assert np.allclose(
        encoder.encode_sources(texts), encoder.encode_texts(texts["history"]), atol=1e-5
    )


def test_item_cache_and_history_mean(ml100k_split, tiny_st, tmp_path):
    train = ml100k_split.train
    encoder = UserEncoder(tiny_st)
    items = dict(list(train.items.items())[:50])
    first = encoder.encode_items(items, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("items-*.safetensors"))) == 1

    class NoEncode:
        def __getattr__(self, name):
            return getattr(tiny_st, name)

        def encode(self, *args, **kwargs):
            raise AssertionError("the cache should have answered")

    cached = UserEncoder(NoEncode())
    cached._fingerprint = encoder.fingerprint()
    again = cached.encode_items(items, cache_dir=tmp_path)
    assert again.ids == first.ids and np.array_equal(again.vectors, first.vectors)

    rng = np.random.default_rng(0)
    table = EmbeddingTable(train.item_ids, rng.normal(size=(len(train.item_ids), 4)))
    users = history_mean(train, table, ["1", "5"])
    ids = [r.item_id for r in train.history("5")]
    expected = table.take(ids).sum(0)
    assert np.allclose(users.vector("5"), expected / np.linalg.norm(expected), atol=1e-6)


def test_save_and_load_encoder(tmp_path, tiny_st, ml100k_split):
    fusion = FusionAdapter(64, ("attributes", "history"), mode="concat_mlp", hidden=8)
    encoder = UserEncoder(tiny_st, fusion=fusion, max_history_tokens=20)
    encoder.save(tmp_path / "enc")
    loaded = UserEncoder.load(tmp_path / "enc", device="cpu")
    assert loaded.sources == ("attributes", "history") and loaded.max_history_tokens == 20
    assert loaded.fusion.config() == fusion.config()
    # constructing from the folder path is the same as load()
    direct = UserEncoder(str(tmp_path / "enc"), device="cpu")
    assert direct.fusion is not None and direct.max_history_tokens == 20
    a = encoder.encode_users(
        ml100k_split.train, ["7", "8"], instruction="What is the gender of this user?"
    )
    b = loaded.encode_users(
        ml100k_split.train, ["7", "8"], instruction="What is the gender of this user?"
    )
    assert np.allclose(a.vectors, b.vectors, atol=1e-6)
