"""Tiny random models: {Qwen2, Phi-3, InternLM2} x {neither, TroL, Phantom, both}.

Forward/backward, gradient checkpointing, save/load round trip, SDPA vs eager, batched vs one-by-one
generation, cached vs uncached greedy decoding (not for TroL, whose decoding steps are single-pass by design;
its cached path is checked against the spec instead).
"""
from __future__ import annotations

import copy

import pytest
import torch

from model import build_model, load_model
from model.trol import record_gates

FAMILIES = ["qwen2", "phi3", "internlm2"]
MECHS = {"plain": (False, False), "trol": (True, False), "phantom": (False, True), "both": (True, True)}
CASES = [(f, m) for f in FAMILIES for m in MECHS]


def make_model(family: str, mech: str, **kw) -> torch.nn.Module:
    use_trol, use_phantom = MECHS[mech]
    torch.manual_seed(0)
    model = build_model(f"tiny-{family}", use_trol=use_trol, use_phantom=use_phantom, **kw)
    _make_mechanisms_visible(model)
    return model.eval()


def _make_mechanisms_visible(model: torch.nn.Module) -> None:
    """Random init leaves the Phantom branch at eta * small; scale its output linears (as the fixtures do) and
    give the TroL gates a clearly non-zero value so that every test can see the mechanisms."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "linear_o" in name:
                p.mul_(3000.0)
            if "gating_phantom" in name or "trol_gat" in name:
                p.normal_(0, 0.5)


def make_inputs(model, rows=(0, 3), extra=6, seed=1):
    """Left-padded prompts, one 64-px tile each: [pad]*p + text + 16 image tokens + text."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    n_img = cfg.tokens_per_tile
    length = 4 + n_img + extra + max(rows)
    ids = torch.full((len(rows), length), cfg.pad_token_id)
    mask = torch.zeros_like(ids)
    for r, pad in enumerate(rows):
        body = torch.randint(10, 250, (length - pad,), generator=g)
        body[3:3 + n_img] = cfg.image_token_index
        ids[r, pad:] = body
        mask[r, pad:] = 1
    pixels = torch.randn(len(rows), 3, cfg.image_size, cfg.image_size, generator=g)
    return dict(input_ids=ids, attention_mask=mask, pixel_values=pixels)


@pytest.mark.parametrize("family,mech", CASES)
def test_forward_backward_and_checkpointing(family, mech):
    model = make_model(family, mech)
    model.train()
    batch = make_inputs(model)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    out = model(**batch, labels=labels)
    assert out.logits.shape == (*batch["input_ids"].shape, model.config.vocab_size)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert any(n.startswith("vision_tower.") for n in grads) and any(n.startswith("vision_proj.") for n in grads)
    if MECHS[mech][0]:
        assert any("trol_gate" in n for n in grads), "TroL gate gets no gradient"
    if MECHS[mech][1]:
        assert any("xattn_query_phantom" in n for n in grads) and any("gating_phantom_2" in n for n in grads)

    model.zero_grad()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    out2 = model(**batch, labels=labels)
    out2.loss.backward()
    assert torch.allclose(out.loss, out2.loss, atol=1e-6)
    for n, p in model.named_parameters():
        if n in grads:
            assert torch.allclose(p.grad, grads[n], atol=1e-5, rtol=1e-4), n


@pytest.mark.parametrize("family,mech", CASES)
def test_save_load_round_trip_and_sdpa_equals_eager(family, mech, tmp_path):
    model = make_model(family, mech)
    batch = make_inputs(model)
    mask = batch["attention_mask"].bool()
    with torch.no_grad():
        ref = model(**batch).logits
        model.save_pretrained(tmp_path / "m")
        loaded = load_model(tmp_path / "m", dtype=torch.float32, device="cpu")
        assert loaded.config.use_trol == model.config.use_trol and loaded.config.use_phantom == model.config.use_phantom
        assert torch.equal(loaded(**batch).logits, ref)
        loaded.set_attention("eager")
        eager = loaded(**batch).logits
    assert (eager - ref).abs()[mask].max() < 1e-4
    assert (tmp_path / "m" / "model.safetensors").exists()


@pytest.mark.parametrize("family,mech", CASES)
def test_batched_left_padded_generation_equals_one_by_one(family, mech):
    model = make_model(family, mech)
    batch = make_inputs(model, rows=(0, 2, 5))
    with torch.no_grad():
        together = model.generate(**batch, max_new_tokens=5, do_sample=False)[:, -5:]
        for r in range(3):
            keep = batch["attention_mask"][r].bool()
            alone = model.generate(input_ids=batch["input_ids"][r][keep][None],
                                   attention_mask=batch["attention_mask"][r][keep][None],
                                   pixel_values=batch["pixel_values"][r:r + 1], max_new_tokens=5, do_sample=False)
            assert together[r].tolist() == alone[0, -5:].tolist(), f"row {r}"


def _uncached_greedy(model, batch, steps):
    """Greedy decoding by re-running the whole padded sequence each step (no cache), padding-aware positions."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    new = []
    for _ in range(steps):
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=mask, pixel_values=batch["pixel_values"],
                       position_ids=pos).logits[:, -1]
        tok = logits.argmax(-1, keepdim=True)
        new.append(tok)
        ids = torch.cat([ids, tok], 1)
        mask = torch.cat([mask, torch.ones_like(tok)], 1)
    return torch.cat(new, 1)


@pytest.mark.parametrize("family,mech", [c for c in CASES if c[1] in ("plain", "phantom")])
def test_cached_generation_equals_uncached_greedy(family, mech):
    model = make_model(family, mech)
    batch = make_inputs(model)
    with torch.no_grad():
        cached = model.generate(**batch, max_new_tokens=6, do_sample=False)[:, -6:]
        uncached = _uncached_greedy(model, batch, 6)
    assert cached.tolist() == uncached.tolist()


@pytest.mark.parametrize("family,mech", [c for c in CASES if c[1] in ("trol", "both")])
def test_trol_cached_path_follows_spec(family, mech):
    """Prefill: two passes per layer, one gate call per layer, cache holds one K/V per token (first pass).
    Decoding steps: one pass, no gate. The first new token is the argmax of the full two-pass forward."""
    from transformers import DynamicCache

    model = make_model(family, mech)
    batch = make_inputs(model)
    length = batch["input_ids"].shape[1]
    n_layers = model.config.llm_config["num_hidden_layers"]
    with torch.no_grad(), record_gates(model) as gates:
        full = model(**batch).logits
    assert sorted(gates) == list(range(n_layers))
    assert all(len(v) == 1 and v[0].shape == (2, length, 1) for v in gates.values())
    assert all(((v[0] > 0) & (v[0] < 1)).all() for v in gates.values())

    with torch.no_grad(), record_gates(model) as gates:
        out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    # one gate call per layer (the prefill); none from the 3 single-token decoding steps
    assert all(len(v) == 1 and v[0].shape[1] == length for v in gates.values())
    assert out[:, length].tolist() == full[:, -1].argmax(-1).tolist()

    cache = DynamicCache(config=model.language_model.config)
    pos = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        model(**batch, position_ids=pos, cache=cache, use_cache=True)
        assert cache.get_seq_length() == length                  # not doubled by the second pass
        tok = out[:, length:length + 1]
        mask = torch.cat([batch["attention_mask"], torch.ones_like(tok)], 1)
        step = model(input_ids=tok, attention_mask=mask, position_ids=pos[:, -1:] + 1, cache=cache,
                     use_cache=True).logits[:, -1]
        assert cache.get_seq_length() == length + 1
        # A decoding step is not the two-pass forward of the extended sequence (TroL's single-pass decoding):
        ids2 = torch.cat([batch["input_ids"], tok], 1)
        two_pass = model(input_ids=ids2, attention_mask=mask, pixel_values=batch["pixel_values"],
                         position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits[:, -1]
        assert (step - two_pass).abs().max() > 1e-3
        # ... but with traversal switched off for that step only it is: a single pass over the cached first-pass K/V
        from model.trol import set_trol_enabled
        cache2 = DynamicCache(config=model.language_model.config)
        model(**batch, position_ids=pos, cache=cache2, use_cache=True)
        set_trol_enabled(model, False)
        try:
            single = model(input_ids=tok, attention_mask=mask, position_ids=pos[:, -1:] + 1, cache=cache2,
                           use_cache=True).logits[:, -1]
        finally:
            set_trol_enabled(model, True)
    assert torch.allclose(step, single, atol=1e-6)


def test_both_mechanisms_change_the_output():
    """TroL and Phantom are both live in one model: switching either off changes the logits."""
    from model.trol import set_trol_enabled

    model = make_model("qwen2", "both")
    batch = make_inputs(model)
    with torch.no_grad():
        ref = model(**batch).logits
        set_trol_enabled(model, False)
        no_trol = model(**batch).logits
        set_trol_enabled(model, True)
        saved = copy.deepcopy(model.state_dict())
        for layer in model.language_model.model.layers:
            layer.self_attn.phantom_eta = 0.0
        no_phantom_eta = model(**batch).logits
    model.load_state_dict(saved)
    assert (ref - no_trol).abs().max() > 1e-3
    assert (ref - no_phantom_eta).abs().max() > 1e-5
