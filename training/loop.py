"""The training loop every step shares: AdamW, EMA, progress bar, resumable checkpoints, timing.

Each step supplies `loss_fn(generator)`; all of a step's randomness comes from that CPU generator,
seeded from (seed, step index), so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

CHECKPOINT = "checkpoint.pt"
TIMING = "timing.json"


@dataclass(frozen=True)
class LoopConfig:
    run_dir: Path
    steps: int
    learning_rate: float
    seed: int
    checkpoint_every: int = 200
    ema_decay: float = 0.999
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_minutes: float | None = None  # stop (checkpointed, resumable) once this run has taken this long
    bfloat16: bool = False  # autocast the forward pass to bfloat16 (GPU runs)

    @classmethod
    def from_dict(cls, data: dict) -> LoopConfig:
        return cls(**{**data, "run_dir": Path(data["run_dir"])})


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def train(
    config: LoopConfig,
    modules: dict[str, torch.nn.Module],
    loss_fn: Callable[[torch.Generator], torch.Tensor],
) -> dict[str, torch.nn.Module]:
    """Train `modules` (all trainable parameters) to config.steps; returns their EMA copies.

    Resumes from run_dir/checkpoint.pt when present; writes run_dir/timing.json at the end. With
    max_minutes it stops early at a checkpoint, and a later run with the same config goes on from there.
    """
    config.run_dir.mkdir(parents=True, exist_ok=True)
    params = [p for m in modules.values() for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / config.warmup_steps)
    )
    emas = {name: copy.deepcopy(m).requires_grad_(False) for name, m in modules.items()}
    start, elapsed = 0, 0.0
    checkpoint_path = config.run_dir / CHECKPOINT
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        for name in modules:
            modules[name].load_state_dict(state["modules"][name])
            emas[name].load_state_dict(state["emas"][name])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, elapsed = state["step"], state["elapsed"]

    def checkpoint(step: int) -> None:
        _save(
            checkpoint_path,
            {
                "modules": {n: m.state_dict() for n, m in modules.items()},
                "emas": {n: m.state_dict() for n, m in emas.items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "elapsed": elapsed + time.perf_counter() - began,
            },
        )

    for module in modules.values():
        module.train()
    began = time.perf_counter()
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, desc=config.run_dir.name)
    for step in bar:
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        with torch.autocast(params[0].device.type, dtype=torch.bfloat16, enabled=config.bfloat16):
            loss = loss_fn(generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        scheduler.step()
        decay = min(config.ema_decay, (1 + step) / (10 + step))
        for name, module in modules.items():
            _ema_update(emas[name], module, decay)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        out_of_time = (
            config.max_minutes is not None and elapsed + time.perf_counter() - began > 60 * config.max_minutes
        )
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps or out_of_time:
            checkpoint(step + 1)
        if out_of_time:
            break
    bar.close()
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
    (config.run_dir / TIMING).write_text(
        json.dumps(
            {
                "steps": state["step"],
                "of_steps": config.steps,
                "seconds": round(state["elapsed"], 1),
                "device": str(params[0].device),
            },
            indent=2,
        )
        + "\n"
    )
    for name in emas:
        emas[name].load_state_dict(state["emas"][name])
    return {name: ema.eval() for name, ema in emas.items()}
