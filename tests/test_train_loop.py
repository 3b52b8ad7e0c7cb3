"""The training loop in-process on a stand-in (a stock tiny Qwen2 and a toy copy task): learning, accumulation
equivalence, exact resume from a checkpoint, metrics, Phantom Optimization batches, overrides and stage freezing."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from trainer import Parts, run
from trainer.overrides import apply_overrides
from trainer.recipes import get_train_preset
from trainer.stages import apply_stage, group_of

VOCAB = 32


def toy_samples(n: int, seed: int = 0) -> list[dict]:
    """Copy task: [1, x1..xk, 2, x1..xk]; only the copy is labelled. Lengths vary (padding is exercised)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        xs = [rng.randrange(3, VOCAB) for _ in range(rng.randrange(2, 6))]
        bad = [rng.randrange(3, VOCAB) for _ in xs]
        out.append({"id": f"toy-{i}", "prompt": [1] + xs + [2], "answer": xs, "rejected": bad})
    return out


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


def toy_collate(samples: list[dict], triples: bool = False) -> dict[str, torch.Tensor]:
    def branch(key: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids = [s["prompt"] + s[key] for s in samples]
        labels = [[-100] * len(s["prompt"]) + s[key] for s in samples]
        mask = [[1] * len(r) for r in ids]
        return _pad(ids, 0), _pad(mask, 0), _pad(labels, -100)

    ids, mask, labels = branch("answer")
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels, "pixel_values": None,
             "sample_ids": [s["id"] for s in samples]}
    if triples:
        r_ids, r_mask, r_labels = branch("rejected")
        batch.update(rejected_input_ids=r_ids, rejected_attention_mask=r_mask, rejected_labels=r_labels)
    return batch


def standin_parts(triples: bool = False, n: int = 96):
    def build(cfg, strategy) -> Parts:
        from transformers import Qwen2Config, Qwen2ForCausalLM

        torch.manual_seed(cfg.seed)
        model = Qwen2ForCausalLM(Qwen2Config(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=2, num_key_value_heads=1, intermediate_size=64,
                                             max_position_embeddings=64))
        return Parts(model=model, processor=None, samples=toy_samples(n),
                     collate=lambda b: toy_collate(b, triples))
    return build


def toy_cfg(out: Path, **kw):
    cfg = get_train_preset("tiny")
    apply_overrides(cfg, [f"output_dir={out}", "micro_batch_size=8", "lr=3e-3", "warmup_steps=2", "max_steps=12",
                          "progress=false", "tracker=none"])
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_loss_goes_down_and_metrics_are_written(tmp_path):
    cfg = toy_cfg(tmp_path / "run", max_steps=30)
    summary = run(cfg, parts=standin_parts())
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 31))
    assert all({"loss", "lr", "tokens_per_s", "steps_per_s", "grad_norm"} <= set(r) for r in rows)
    first, last = sum(r["loss"] for r in rows[:5]) / 5, sum(r["loss"] for r in rows[-5:]) / 5
    assert last < first - 0.3, (first, last)
    # warmup then cosine: the lr rises for 2 steps, peaks, then decays to near min_lr
    lrs = [r["lr"] for r in rows]
    assert lrs[0] < lrs[1] <= max(lrs) and lrs[-1] < 0.2 * max(lrs)
    assert (tmp_path / "run" / "final" / "config.json").is_file()
    assert summary["final_loss"] == pytest.approx(rows[-1]["loss"])


def test_gradient_accumulation_equals_the_large_batch(tmp_path):
    a = run(toy_cfg(tmp_path / "a", micro_batch_size=8, grad_accum=1, max_steps=6), parts=standin_parts())
    b = run(toy_cfg(tmp_path / "b", micro_batch_size=4, grad_accum=2, max_steps=6), parts=standin_parts())
    la = [r["loss"] for r in read_metrics(tmp_path / "a")]
    lb = [r["loss"] for r in read_metrics(tmp_path / "b")]
    # same samples per step (the sampler's order is the same), token-normalised over the whole step
    assert la == pytest.approx(lb, abs=1e-5)
    assert a["final_loss"] == pytest.approx(b["final_loss"], abs=1e-5)


def test_resume_from_checkpoint_reproduces_losses(tmp_path):
    full = tmp_path / "full"
    run(toy_cfg(full, max_steps=10, save_every=4, keep_last=5), parts=standin_parts())
    ref = read_metrics(full)
    part = tmp_path / "part"
    run(toy_cfg(part, max_steps=10, save_every=4, keep_last=5), parts=standin_parts())
    # simulate a crash after step 6: only checkpoint-4 survives and metrics ran ahead of it
    shutil.rmtree(part / "checkpoint-8")
    shutil.rmtree(part / "checkpoint-10")
    shutil.rmtree(part / "final")
    lines = (part / "metrics.jsonl").read_text().splitlines()[:6]
    (part / "metrics.jsonl").write_text("\n".join(lines) + "\n{\"step\": 7, \"lo")  # a line cut by the kill
    run(toy_cfg(part, max_steps=10, save_every=4, keep_last=5), resume=True, parts=standin_parts())
    got = read_metrics(part)
    assert [r["step"] for r in got] == list(range(1, 11))
    assert [r["loss"] for r in got] == pytest.approx([r["loss"] for r in ref], abs=1e-6)
    assert [r["samples"] for r in got] == [r["samples"] for r in ref]
    state = json.loads((part / "checkpoint-10" / "trainer_state" / "state.json").read_text())
    assert state["step"] == 10 and state["data"]["consumed"] == 10 % (96 // 8) + 0


def test_phantom_optimization_objective_runs_and_logs_terms(tmp_path):
    cfg = toy_cfg(tmp_path / "po", objective="phantom_opt", max_steps=40)
    run(cfg, parts=standin_parts(triples=True))
    rows = read_metrics(tmp_path / "po")
    for r in rows:
        assert r["loss"] == pytest.approx(r["sft_loss"] + r["pref_loss"], rel=1e-6)
        assert 0.0 <= r["pref_accuracy"] <= 1.0
    # learning to copy makes the preferred answers more likely than the rejected (random) ones
    first = sum(r["pref_loss"] for r in rows[:5]) / 5
    last = sum(r["pref_loss"] for r in rows[-5:]) / 5
    assert last < first - 0.1, (first, last)
    assert sum(r["pref_accuracy"] for r in rows[-5:]) > sum(r["pref_accuracy"] for r in rows[:5])


def test_phantom_optimization_without_triples_fails_clearly(tmp_path):
    with pytest.raises(KeyError, match="rejected_input_ids"):
        run(toy_cfg(tmp_path / "x", objective="phantom_opt", max_steps=1), parts=standin_parts())


def test_overrides_reach_nested_fields_and_validate():
    cfg = get_train_preset("phantom-0.5b-step1")
    apply_overrides(cfg, ["lora.r=8", "po.beta=2.5", "trainable=projector,phantom", "model.use_trol=false",
                          "data.max_length=512", "betas=[0.9,0.95]", "lora.quantization=null"])
    assert cfg.lora.r == 8 and cfg.po.beta == 2.5 and cfg.trainable == ["projector", "phantom"]
    assert cfg.model == {"use_trol": False} and cfg.data.max_length == 512 and cfg.betas == (0.9, 0.95)
    assert cfg.lora.quantization is None
    with pytest.raises(KeyError, match="no field 'lrr'"):
        apply_overrides(cfg, ["lrr=1"])
    with pytest.raises(ValueError, match="expected an integer"):
        apply_overrides(cfg, ["micro_batch_size=abc"])
    with pytest.raises(ValueError, match="unknown group"):
        apply_overrides(cfg, ["trainable=projectr"])


def test_stage_freezing_by_group():
    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vision_tower = torch.nn.Linear(2, 2)
            self.vision_proj = torch.nn.Linear(2, 2)
            self.language_model = torch.nn.ModuleDict({"layer": torch.nn.Linear(2, 2)})
            self.trol_gating = torch.nn.Linear(2, 1)
            self.language_model["layer"].gating_phantom_1 = torch.nn.Linear(2, 1)

    m = Toy()
    counts = apply_stage(m, ["projector", "phantom"])
    on = {n for n, p in m.named_parameters() if p.requires_grad}
    assert on == {"vision_proj.weight", "vision_proj.bias", "language_model.layer.gating_phantom_1.weight",
                  "language_model.layer.gating_phantom_1.bias"}
    assert counts == {"projector": 6, "phantom": 3}
    assert group_of("trol_gating.weight") == "trol" and group_of("language_model.model.embed_tokens.weight") == "llm"
    with pytest.raises(ValueError, match="match no parameter"):
        apply_stage(torch.nn.Linear(2, 2), ["trol"])


@pytest.mark.slow
def test_deepspeed_single_process_resume_reproduces_losses(tmp_path, monkeypatch):
    """ZeRO-2 checkpoint (DeepSpeed's own optimizer partitions) + our RNG/data state: exact resume."""
    pytest.importorskip("deepspeed")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1",
                 "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    kw = dict(max_steps=6, save_every=3, keep_last=5, strategy="deepspeed", zero_stage=2)
    run(toy_cfg(tmp_path / "full", **kw), parts=standin_parts())
    ref = read_metrics(tmp_path / "full")
    part = tmp_path / "part"
    run(toy_cfg(part, **kw), parts=standin_parts())
    assert (part / "checkpoint-3" / "trainer_state" / "deepspeed").is_dir()
    shutil.rmtree(part / "checkpoint-6")
    shutil.rmtree(part / "final")
    run(toy_cfg(part, **kw), resume=True, parts=standin_parts())
    assert [r["loss"] for r in read_metrics(part)] == pytest.approx([r["loss"] for r in ref], abs=1e-6)


def test_one_forward_for_both_branches_equals_two_forwards():
    from trainer.loop import micro_step_parts
    from trainer.losses import phantom_opt_parts

    cfg = toy_cfg(Path("unused"), objective="phantom_opt")
    model = standin_parts(triples=True)(cfg, None).model.eval()
    batch = toy_collate(toy_samples(6, seed=3), triples=True)
    joint = micro_step_parts(model, batch, cfg)
    sep = phantom_opt_parts(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                            batch["labels"],
                            model(input_ids=batch["rejected_input_ids"],
                                  attention_mask=batch["rejected_attention_mask"]).logits,
                            batch["rejected_labels"], cfg.po.beta, cfg.po.gamma, batch["attention_mask"],
                            batch["rejected_attention_mask"])
    assert float(joint.ce_sum) == pytest.approx(float(sep.ce_sum), abs=1e-4)
    assert float(joint.pref_sum) == pytest.approx(float(sep.pref_sum), abs=1e-5)
    assert joint.n_tokens == sep.n_tokens and joint.n_pairs == sep.n_pairs == 6


def test_a_fresh_run_refuses_an_old_runs_checkpoints(tmp_path):
    out = tmp_path / "old"
    (out / "checkpoint-3" / "trainer_state").mkdir(parents=True)
    (out / "checkpoint-3" / "trainer_state" / "state.json").write_text("{}")
    with pytest.raises(FileExistsError, match="--resume"):
        run(toy_cfg(out, max_steps=2), parts=standin_parts())
    run(toy_cfg(out, max_steps=2, overwrite=True), parts=standin_parts())
    assert not (out / "checkpoint-3").exists() and (out / "checkpoint-2").is_dir()


def test_train_cli_resolves_presets_and_overrides(capsys):
    import train

    assert train.main(["--preset", "trol-1.8b-step2", "--output-dir", "X", "--max-steps", "7", "--save-every", "3",
                       "--set", "lora.r=16", "--set", "model.use_phantom=true", "--local_rank", "1",
                       "--print-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["output_dir"], cfg["max_steps"], cfg["save_every"]) == ("X", 7, 3)
    assert cfg["lora"]["r"] == 16 and cfg["lora"]["quantization"] == "4bit" and cfg["lora"]["alpha"] == 64
    assert cfg["trainable"] == ["projector", "trol", "lora"] and cfg["lr"] == 1e-4 and cfg["min_lr"] == 1e-6
    assert cfg["model"] == {"use_phantom": True} and cfg["init_from"] == "runs/trol-1.8b-step1/final"
    assert train.main(["--list-presets"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{f}-{s}-step{k}" in listed for f, sizes in (("trol", ("1.8b", "3.8b", "7b")),
                                                             ("phantom", ("0.5b", "1.8b", "3.8b", "7b")))
               for s in sizes for k in (1, 2))


def test_unshuffled_data_is_read_in_file_order(tmp_path):
    """data.shuffle=false (a curriculum written in order): step k trains on records k*B .. (k+1)*B-1."""
    seen: list[str] = []

    def recording_parts(cfg, strategy) -> Parts:
        parts = standin_parts(n=40)(cfg, strategy)

        def collate(batch):
            seen.extend(s["id"] for s in batch)
            return toy_collate(batch)
        return Parts(model=parts.model, processor=None, samples=parts.samples, collate=collate)

    cfg = toy_cfg(tmp_path / "ordered", max_steps=4)
    apply_overrides(cfg, ["data.shuffle=false"])
    run(cfg, parts=recording_parts)
    assert seen == [f"toy-{i}" for i in range(32)]
    seen.clear()
    run(toy_cfg(tmp_path / "shuffled", max_steps=4), parts=recording_parts)
    assert len(seen) == 32 and seen != [f"toy-{i}" for i in range(32)]
