"""The from-scratch initialisation of the tiny preset (`llm_init_scale`, `embed_init_std`, model/vlm.py).

Why it exists (docs/quickstart.md, "Diagnosis"): with the stock N(0, 0.02) embeddings a width-128 model trained from
scratch starts with text embeddings 400x smaller than the first layer's residual update, so which word a question
asks about is nearly invisible downstream and question-conditioned image questions stay at chance.
"""
from __future__ import annotations

import math

import torch

from model import build_model


def _rms(t: torch.Tensor) -> float:
    return t.float().pow(2).mean().sqrt().item()


def test_tiny_preset_draws_unit_embeddings_and_fan_in_linears() -> None:
    torch.manual_seed(0)
    model = build_model("tiny")
    assert model.config.embed_init_std == 1.0 and model.config.llm_init_scale == 2.0
    embed = model.get_input_embeddings()
    rows = [i for i in range(embed.num_embeddings) if i != embed.padding_idx]
    assert 0.95 < embed.weight[rows].std().item() < 1.05
    if embed.padding_idx is not None:
        assert torch.count_nonzero(embed.weight[embed.padding_idx]) == 0
    for module in model.vision_proj.modules():
        if isinstance(module, torch.nn.Linear):
            want = 1 / math.sqrt(module.in_features)
            assert abs(module.weight.std().item() / want - 1) < 0.1
    q_proj = model.language_model.model.layers[0].self_attn.q_proj
    assert abs(q_proj.weight.std().item() / (2 / math.sqrt(q_proj.in_features)) - 1) < 0.1
    # the LM head is the token embedding matrix itself (tied, as Qwen2-0.5B's)
    assert model.get_output_embeddings().weight is embed.weight
    # untied, it keeps the standard initialisation (initializer_range)
    untied = build_model("tiny", tie_word_embeddings=False)
    assert untied.get_output_embeddings().weight is not untied.get_input_embeddings().weight
    assert untied.get_output_embeddings().weight.std().item() < 0.05


def test_stock_initialisation_is_unchanged_when_switched_off() -> None:
    torch.manual_seed(0)
    model = build_model("tiny", llm_init_scale=0.0, embed_init_std=0.0)
    assert model.get_input_embeddings().weight.std().item() < 0.05
    q_proj = model.language_model.model.layers[0].self_attn.q_proj
    assert q_proj.weight.std().item() < 0.05


def test_text_identity_survives_the_first_layer() -> None:
    """The behaviour the init is for: a token's own embedding stays a sizeable part of its residual stream after
    the first decoder layer (measured: 16 % of the update there; with std 0.02 embeddings 0.3 %)."""
    ratios = {}
    for name, kw in {"tiny": {}, "stock": dict(llm_init_scale=2.0, embed_init_std=0.0)}.items():
        torch.manual_seed(0)
        model = build_model("tiny", use_trol=False, use_phantom=False, **kw).eval()
        ids = torch.randint(5, model.config.vocab_size, (2, 24))
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        emb, first = out.hidden_states[0], out.hidden_states[1]
        ratios[name] = _rms(emb) / _rms(first - emb)
    assert ratios["tiny"] > 0.1, ratios
    assert ratios["stock"] < 0.02, ratios


def test_saved_model_keeps_its_weights_not_a_fresh_init(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("tiny")
    model.save_pretrained(tmp_path)
    from model import TrolPhantomForCausalLM

    loaded = TrolPhantomForCausalLM.from_pretrained(tmp_path)
    assert loaded.config.embed_init_std == 1.0
    assert torch.equal(loaded.get_input_embeddings().weight, model.get_input_embeddings().weight)
    assert torch.equal(loaded.vision_proj[1].weight, model.vision_proj[1].weight)


def test_final_norm_init_starts_the_tied_logits_at_unit_scale(tmp_path) -> None:
    """With the tied head and unit embeddings the logits start at RMS sqrt(hidden) (a first loss of ~30);
    `final_norm_init = hidden ** -0.5` starts them at RMS 1, and a saved model keeps its trained norm."""
    ids = torch.randint(5, 500, (2, 24))
    rms = {}
    for value in (0.0, 128 ** -0.5):
        torch.manual_seed(0)
        model = build_model("tiny", final_norm_init=value).eval()
        with torch.no_grad():
            rms[value] = _rms(model(input_ids=ids).logits)
    assert 8 < rms[0.0] < 15 and 0.7 < rms[128 ** -0.5] < 1.4, rms
    norm = model.language_model.model.norm.weight
    assert torch.allclose(norm, torch.full_like(norm, 128 ** -0.5))
    with torch.no_grad():
        norm.mul_(3)
    model.save_pretrained(tmp_path)
    from model import TrolPhantomForCausalLM

    loaded = TrolPhantomForCausalLM.from_pretrained(tmp_path)
    assert torch.equal(loaded.language_model.model.norm.weight, norm)
