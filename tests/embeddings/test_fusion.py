from __future__ import annotations

import pytest
import torch

from llmrec.embeddings.fusion import FusionAdapter


@pytest.mark.parametrize("mode", ["attention", "concat_mlp", "mean"])
def test_untrained_adapter_is_the_masked_mean(mode):
    torch.manual_seed(0)
    adapter = FusionAdapter(dim=8, sources=("profile", "attributes", "history"), mode=mode)
    x = torch.randn(4, 3, 8)
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], dtype=torch.bool)
    out = adapter(x, mask)
    assert torch.allclose(out[0], x[0].mean(0), atol=1e-6)
    assert torch.allclose(out[1], (x[1, 0] + x[1, 2]) / 2, atol=1e-6)
    assert torch.allclose(out[2], x[2, 2], atol=1e-6)
    assert torch.equal(out[3], torch.zeros(8))  # no source at all


def test_missing_source_values_do_not_leak():
    adapter = FusionAdapter(dim=4, sources=("a", "b"), mode="attention")
    with torch.no_grad():
        adapter.query.copy_(torch.randn(4))
        adapter.proj.weight.copy_(torch.randn(4, 4))
    x = torch.randn(1, 2, 4)
    mask = torch.tensor([[True, False]])
    y = x.clone()
    y[0, 1] = 1e6  # garbage in the masked slot
    assert torch.allclose(adapter(x, mask), adapter(y, mask))


@pytest.mark.parametrize("mode", ["attention", "concat_mlp"])
def test_adapter_learns_to_weight_the_informative_source(mode):
    torch.manual_seed(0)
    adapter = FusionAdapter(dim=8, sources=("noise", "signal"), mode=mode, hidden=32)
    before = {k: v.clone() for k, v in adapter.state_dict().items()}
    optim = torch.optim.Adam(adapter.parameters(), lr=0.05)
    x = torch.randn(64, 2, 8)
    target = x[:, 1]
    first = torch.nn.functional.mse_loss(adapter(x), target).item()
    for _ in range(80):
        loss = torch.nn.functional.mse_loss(adapter(x), target)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < 0.25 * first
    assert any(not torch.equal(before[k], v) for k, v in adapter.state_dict().items())


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(1)
    adapter = FusionAdapter(dim=6, sources=("attributes", "history"), mode="concat_mlp", hidden=5)
    with torch.no_grad():
        for p in adapter.parameters():
            p.add_(torch.randn_like(p))
    adapter.save(tmp_path)
    loaded = FusionAdapter.load(tmp_path)
    x = torch.randn(3, 2, 6)
    assert loaded.config() == adapter.config()
    assert torch.equal(loaded(x), adapter(x))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown fusion mode 'max'"):
        FusionAdapter(4, mode="max")
    with pytest.raises(ValueError, match=r"expected \(batch, 2, 4\) input, got \(1, 3, 4\)"):
        FusionAdapter(4, ("a", "b"))(torch.zeros(1, 3, 4))
    with pytest.raises(FileNotFoundError, match="fusion_config.json"):
        FusionAdapter.load("/nonexistent")
