"""Training recipes: the typed `TrainConfig` and the named presets of both papers' stage recipes.

Sources of the numbers: ../shared/spec/model.md §10 and §12 (TroL arXiv 2406.12246 §4, Phantom arXiv 2409.14713 §4).
Where the papers leave a value open, the preset says "chosen" next to it; every value is a setting reachable with
`--set key=value` (see `trainer.overrides`).

The lead re-exports `TrainConfig`, `TRAIN_PRESETS` and `get_train_preset` from the top-level `config.py`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

# Parameter groups a stage can train (resolved to parameter names in `trainer.stages`).
GROUPS = ("vision", "projector", "llm", "trol", "phantom", "lora", "all")


@dataclass
class LoraSettings:
    """LoRA / QLoRA through peft. `quantization` loads the frozen backbone in 4 or 8 bit (bitsandbytes)."""

    enabled: bool = False
    r: int = 64
    alpha: int = 64
    dropout: float = 0.05  # chosen: the papers give no dropout
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    # only modules under this name get adapters (the vision tower has q/k/v_proj too); "" = everywhere
    scope: str = "language_model"
    quantization: str | None = None  # None | "4bit" | "8bit"
    merge_on_export: bool = True  # the final model is written merged, loadable without peft


@dataclass
class PhantomOptSettings:
    """Phantom Optimization: SFT on the chosen answer plus a SimPO-style preference term (spec/model.md §10, §12).

    loss = sft_weight * CE(y+) + pref_weight * mean_over_triples( -log sigmoid(beta*l(y+) - beta*l(y-) - gamma) )
    with l(y) the answer-token mean log-likelihood. beta 2.0 and gamma 0.5 are the paper's (§12); the relative
    weight of the two terms is not given by the paper: 1.0 / 1.0 is chosen.
    """

    beta: float = 2.0
    gamma: float = 0.5
    sft_weight: float = 1.0  # chosen
    pref_weight: float = 1.0  # chosen


@dataclass
class DataSettings:
    """Where the training samples come from.

    kind: "synthetic" (the tiny task, generated on first use under `synthetic_dir`), "curriculum" (a mixture of a
    dataset root read by `loader.curriculum`), or "triples" (Phantom.json triples, for Phantom Optimization).
    """

    kind: str = "synthetic"
    root: str | None = None  # dataset root for "curriculum" / "triples"
    mixture: str = "phantom-2.8m"  # loader.curriculum.MIXTURES: "trol-2.3m" | "phantom-2.8m" | "phantom-curated-2.0m"
    synthetic_dir: str | None = None  # default: <output_dir>/../data/synthetic
    synthetic_seed: int = 0
    synthetic_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to loader.synthetic.generate
    max_length: int = 256
    num_workers: int = 0
    group_by_length: bool = False
    # False: read the records in file order, every epoch (a curriculum written in order, e.g. the quickstart's
    # `python -m loader synthetic --curriculum ...`); True: a fresh seeded permutation per epoch
    shuffle: bool = True


@dataclass
class TrainConfig:
    """One training stage. A recipe is a sequence of these (step 1, step 2), each run by `train.py`."""

    name: str = "custom"
    description: str = ""
    # model: a config.MODEL_PRESETS name built at random init, or a directory / hub id in `init_from`
    model_preset: str = "tiny"
    model: dict[str, Any] = field(default_factory=dict)  # overrides of ModelConfig fields (dotted keys allowed)
    init_from: str | None = None
    output_dir: str = "runs/tiny"
    data: DataSettings = field(default_factory=DataSettings)
    # what trains in this stage (GROUPS) and with which objective
    trainable: list[str] = field(default_factory=lambda: ["all"])
    objective: str = "sft"  # "sft" | "phantom_opt"
    po: PhantomOptSettings = field(default_factory=PhantomOptSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    # synthetic task only: before the first step, train the vision tower + projector alone for this many steps on
    # the scenes' per-quadrant colour / shape labels (trainer.vision_pretrain: the tiny model's stand-in for a
    # pretrained vision encoder); 0: off. Skipped on --resume from a checkpoint.
    vision_pretrain_steps: int = 0
    vision_pretrain_lr: float = 1e-3
    # optimisation (AdamW, linear warmup then cosine annealing from lr to min_lr)
    lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_steps: int = 0
    warmup_ratio: float = 0.03  # used when warmup_steps == 0; chosen (the papers give none)
    weight_decay: float = 0.0  # chosen
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0  # chosen
    micro_batch_size: int = 4
    grad_accum: int = 1
    max_steps: int = 0  # 0: one epoch (the papers train one epoch per step)
    epochs: int = 1
    seed: int = 0
    precision: str = "fp32"  # "fp32" | "bf16"
    gradient_checkpointing: bool = False
    # distribution: "auto" (DDP when launched with WORLD_SIZE > 1), "plain", "deepspeed"
    strategy: str = "auto"
    zero_stage: int = 2
    offload_optimizer: bool = False
    ds_config_file: str | None = None  # a DeepSpeed JSON merged over the generated config
    ddp_find_unused: bool = True  # DDP: mixtures have text-only batches (no vision-tower gradients on that rank)
    # checkpoints and logging
    save_every: int = 0  # 0: only at the end
    overwrite: bool = False  # a fresh (non --resume) run into a directory with checkpoints deletes them
    keep_last: int = 2
    log_every: int = 1
    log_sample_ids: bool = False  # add the dataset indices of this rank's samples to every metrics line (audits)
    tracker: str = "tensorboard"  # "none" | "tensorboard" | "wandb"
    wandb_project: str = "trol-phantom"
    progress: bool = True

    def __post_init__(self) -> None:
        bad = [g for g in self.trainable if g not in GROUPS]
        if bad:
            raise ValueError(f"TrainConfig.trainable: unknown group(s) {bad}; valid: {list(GROUPS)}")
        if self.objective not in ("sft", "phantom_opt"):
            raise ValueError(f"TrainConfig.objective={self.objective!r}; use 'sft' or 'phantom_opt'")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"TrainConfig.precision={self.precision!r}; use 'fp32' or 'bf16'")
        if self.strategy not in ("auto", "plain", "deepspeed"):
            raise ValueError(f"TrainConfig.strategy={self.strategy!r}; use 'auto', 'plain' or 'deepspeed'")
        if self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"TrainConfig.zero_stage={self.zero_stage}; use 0, 1, 2 or 3")
        if self.tracker not in ("none", "tensorboard", "wandb"):
            raise ValueError(f"TrainConfig.tracker={self.tracker!r}; use 'none', 'tensorboard' or 'wandb'")
        if self.vision_pretrain_steps and self.data.kind != "synthetic":
            # checked here, so that train.py refuses it before anything is built or written
            raise ValueError(f"vision_pretrain_steps={self.vision_pretrain_steps} needs the synthetic task's scene "
                             f"labels, but data.kind is {self.data.kind!r}; set vision_pretrain_steps=0 (real models "
                             "start from a pretrained vision encoder: init_from)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------------------------
# Presets. Each is a function returning a fresh TrainConfig, so that overrides never leak between runs.

def _tiny() -> TrainConfig:
    # Tuned for speed on 2 CPU cores: small images and sequences, no checkpointing, AdamW, warmup + cosine.
    return TrainConfig(
        name="tiny", description="tiny TroL + Phantom model from scratch on the synthetic task (CPU)",
        model_preset="tiny", output_dir="runs/tiny", trainable=["all"], objective="sft",
        lr=1e-3, min_lr=1e-5, warmup_steps=10, micro_batch_size=8, grad_accum=1, max_steps=300,
        precision="fp32", gradient_checkpointing=False, strategy="auto", save_every=0, tracker="none",
        data=DataSettings(kind="synthetic", max_length=128),
    )


def _trol(size: str, step: int) -> TrainConfig:
    # spec/model.md §12: TroL: 2 steps, 1 epoch each; batch 768 (gradient accumulation 6 -> micro 16 on 8 GPUs);
    # AdamW, cosine 1e-4 -> 1e-6; step 1: projector + TroL-Mixers; step 2: + backbone through Q-LoRA r 64 / a 64.
    lora = LoraSettings(enabled=step == 2, r=64, alpha=64, quantization="4bit" if step == 2 else None)
    return TrainConfig(
        name=f"trol-{size}-step{step}",
        description=f"TroL-{size} step {step}: " + (
            "vision projector + TroL-Mixers" if step == 1 else "projector + TroL-Mixers + backbone via Q-LoRA"),
        model_preset=f"trol-{size}", output_dir=f"runs/trol-{size}-step{step}",
        # step 1 starts from the converted base VLM (spec/model.md §1 lineage: InternLM-XComposer2-VL /
        # Mini-InternVL-Chat-4B-V1.5); point it elsewhere with --set init_from=DIR
        init_from=f"checkpoints/trol-{size}-base" if step == 1 else f"runs/trol-{size}-step1/final",
        trainable=["projector", "trol"] + (["lora"] if step == 2 else []),
        lora=lora, lr=1e-4, min_lr=1e-6, micro_batch_size=16, grad_accum=6, epochs=1,
        # ZeRO-2: ZeRO-3 does not partition bitsandbytes 4-bit weights (--set zero_stage=3 for unquantized runs)
        precision="bf16", gradient_checkpointing=True, strategy="deepspeed", zero_stage=2,
        save_every=1000, tracker="tensorboard",
        data=DataSettings(kind="curriculum", mixture="trol-2.3m", max_length=2048, num_workers=4, group_by_length=True),
    )


def _phantom(size: str, step: int) -> TrainConfig:
    # spec/model.md §12: Phantom: 2 steps, 1 epoch each; batch 128 (gradient accumulation 4 -> micro 4 on 8 GPUs);
    # AdamW, cosine 1e-5 -> 1e-6; step 1: projector + Phantom modules with Phantom Optimization (SimPO-style,
    # beta 2.0, gamma 0.5) on the curated triples; step 2: all parameters, 8-bit backbone + Q-LoRA r 256 / a 256.
    # Whether step 2 keeps the preference term is not given: chosen SFT only on the gathered mixture.
    lora = LoraSettings(enabled=step == 2, r=256, alpha=256, quantization="8bit" if step == 2 else None)
    return TrainConfig(
        name=f"phantom-{size}-step{step}",
        description=f"Phantom-{size} step {step}: " + (
            "projector + Phantom modules, Phantom Optimization" if step == 1 else "all parameters (Q-LoRA backbone)"),
        model_preset=f"phantom-{size}", output_dir=f"runs/phantom-{size}-step{step}",
        # step 1 starts from the converted base VLM (InternVL2-1B/2B/4B/8B, spec/model.md §1 lineage)
        init_from=f"checkpoints/phantom-{size}-base" if step == 1 else f"runs/phantom-{size}-step1/final",
        trainable=["projector", "phantom"] if step == 1 else ["projector", "phantom", "lora"],
        objective="phantom_opt" if step == 1 else "sft",
        lora=lora, lr=1e-5, min_lr=1e-6, micro_batch_size=4, grad_accum=4, epochs=1,
        # ZeRO-2: ZeRO-3 does not partition bitsandbytes 8-bit weights (--set zero_stage=3 for unquantized runs)
        precision="bf16", gradient_checkpointing=True, strategy="deepspeed", zero_stage=2,
        save_every=1000, tracker="tensorboard",
        data=DataSettings(kind="triples" if step == 1 else "curriculum",
                          mixture="phantom-curated-2.0m" if step == 1 else "phantom-2.8m",
                          max_length=2048, num_workers=4, group_by_length=True),
    )


TRAIN_PRESETS: dict[str, Callable[[], TrainConfig]] = {"tiny": _tiny}
for _size in ("1.8b", "3.8b", "7b"):
    for _step in (1, 2):
        TRAIN_PRESETS[f"trol-{_size}-step{_step}"] = lambda s=_size, k=_step: _trol(s, k)
for _size in ("0.5b", "1.8b", "3.8b", "7b"):
    for _step in (1, 2):
        TRAIN_PRESETS[f"phantom-{_size}-step{_step}"] = lambda s=_size, k=_step: _phantom(s, k)


def get_train_preset(name: str) -> TrainConfig:
    """A fresh TrainConfig for a preset name; unknown names fail with the list of valid ones."""
    if name not in TRAIN_PRESETS:
        raise KeyError(f"unknown training preset {name!r}; valid presets: {sorted(TRAIN_PRESETS)}")
    return TRAIN_PRESETS[name]()
