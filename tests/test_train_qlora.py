"""QLoRA through `trainer.lora.apply_lora` on a 4-bit (bitsandbytes nf4) stand-in backbone on CPU
(spec/env.md §3.4: bitsandbytes 0.50 quantizes and trains LoRA on CPU)."""
from __future__ import annotations

import pytest
import torch

from trainer.lora import apply_lora, is_quantized, merged_for_export
from trainer.recipes import LoraSettings
from trainer.stages import apply_stage


@pytest.fixture
def quantized_qwen2(tmp_path):
    pytest.importorskip("bitsandbytes")
    from transformers import BitsAndBytesConfig, Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, intermediate_size=128, max_position_embeddings=64)
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path / "base")
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32)
    return Qwen2ForCausalLM.from_pretrained(tmp_path / "base", quantization_config=q, device_map="cpu")


def test_qlora_trains_adapters_on_a_4bit_backbone(quantized_qwen2):
    model = quantized_qwen2
    assert is_quantized(model)
    peft_model = apply_lora(model, LoraSettings(enabled=True, r=4, alpha=8, scope="", quantization="4bit"))
    counts = apply_stage(peft_model, ["lora"])
    assert counts["lora"] > 0 and set(counts) == {"lora"}
    lora = [p for n, p in peft_model.named_parameters() if p.requires_grad]
    before = [p.detach().clone() for p in lora]
    opt = torch.optim.AdamW(lora, lr=1e-2)
    ids = torch.randint(0, 64, (2, 12))
    for _ in range(2):
        loss = peft_model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, lora, strict=True))
    with pytest.raises(RuntimeError, match="lossy"):
        merged_for_export(peft_model)  # a 4-bit base needs its full-precision copy to merge onto


def test_qlora_export_merges_onto_the_full_precision_base(quantized_qwen2, tmp_path):
    from transformers import Qwen2ForCausalLM

    settings = LoraSettings(enabled=True, r=4, alpha=8, scope="", quantization="4bit")
    peft_model = apply_lora(quantized_qwen2, settings)
    apply_stage(peft_model, ["lora"])
    with torch.no_grad():  # a trained adapter: B != 0
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.fill_(0.01)
    base_dir = tmp_path / "base"
    merged = merged_for_export(peft_model, settings, lambda: Qwen2ForCausalLM.from_pretrained(base_dir))
    assert not is_quantized(merged) and not any("lora_" in n for n, _ in merged.named_parameters())
    plain = Qwen2ForCausalLM.from_pretrained(base_dir)
    q = "model.layers.0.self_attn.q_proj.weight"
    delta = merged.state_dict()[q] - plain.state_dict()[q]
    a = dict(peft_model.named_parameters())["base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"]
    expected = (8 / 4) * torch.full((64, 4), 0.01) @ a.detach().float()  # scale alpha/r times B @ A
    assert torch.allclose(delta, expected, atol=1e-6)
