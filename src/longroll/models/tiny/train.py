"""The training recipe of the built-in model: autoencoder, then latents, then the DiT.

Stages (each resumable; a finished stage is skipped on a re-run):
1. data: render ``clips`` random clips of ``train_len`` frames.
2. autoencoder: MSE with latent-noise augmentation; then per-channel latent statistics.
3. latents: encode every clip once (the DiT never runs the encoder).
4. denoiser: flow matching with independent per-frame noise levels (diffusion forcing), half of
   the clips with one level per chunk, and FAR's stochastic clean context (each chunk clean with
   probability ``clean_p``, marked with the clean timestep, no loss on it); AdamW, bf16 autocast
   on CPU, EMA weights; checkpoint every ``checkpoint_every`` steps.
5. export: EMA weights + autoencoder to safetensors with a JSON config, and the loss curves.

The recipe itself (``TrainConfig``) is ``recipe.py``; the loss curves' CSVs and PNG are ``losses.py``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from longroll._validate import check_choice, check_int
from longroll.io.atomic import atomic_output
from longroll.models.tiny.autoencoder import Autoencoder, frames_to_tensor
from longroll.models.tiny.config import CLEAN_T
from longroll.models.tiny.dit import TinyDiT, encode_prompt, null_prompt
from longroll.models.tiny.long import build_dit
from longroll.models.tiny.losses import plot_losses, write_losses
from longroll.models.tiny.recipe import TrainConfig
from longroll.sampler import warp

log = logging.getLogger(__name__)


def _atomic_save(obj, path: Path) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------------------------- stages
def stage_data(cfg: TrainConfig, out: Path) -> dict:
    path = out / "data.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    from longroll.world.dataset import make_clips

    t0 = time.time()
    clips, scenes = make_clips(cfg.clips, cfg.frames, cfg.seed)
    cond = torch.stack([encode_prompt(s.prompt) for s in scenes])
    data = {"clips": torch.from_numpy(clips), "cond": cond}
    _atomic_save(data, path)
    log.info("rendered %d clips in %.0f s", cfg.clips, time.time() - t0)
    return data


def stage_autoencoder(cfg: TrainConfig, out: Path, clips: torch.Tensor) -> Autoencoder:
    from tqdm import tqdm

    final = out / "ae.pt"
    device = _device()
    torch.manual_seed(cfg.seed)  # the initial weights from the recipe's seed, not from whatever ran before
    ae = Autoencoder(cfg.ae).to(device)
    if final.exists():
        ae.load_state_dict(torch.load(final, map_location=device))
        return ae
    if cfg.ae_from is not None:  # the autoencoder of exported weights: nothing to train
        ae.load_state_dict(_exported_state(cfg.ae_from, "ae.", "ae_from"))
        _atomic_save(ae.state_dict(), final)
        return ae
    ckpt_path = out / "ae_ckpt.pt"
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg.ae_lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    step, losses = 0, []
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        ae.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        gen.set_state(ckpt["gen"])
        step, losses = ckpt["step"], ckpt["losses"]
    frames = clips.reshape(-1, *clips.shape[2:])  # (N, H, W, 3) uint8
    bar = tqdm(total=cfg.ae_steps, initial=step, desc="autoencoder", unit="step")
    while step < cfg.ae_steps:
        idx = torch.randint(len(frames), (cfg.ae_batch,), generator=gen)
        x = frames_to_tensor(frames[idx]).to(device)
        lr = cfg.ae_lr * 0.5 * (1 + np.cos(np.pi * step / cfg.ae_steps))
        for group in opt.param_groups:
            group["lr"] = lr
        z = ae.encode_raw(x)
        z = z + cfg.ae_latent_noise * z.detach().std() * torch.randn(z.shape, generator=gen).to(device)
        err = ae.decode_raw(z) - x
        loss = err.pow(2).mean() + cfg.ae_l1 * err.abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if step % cfg.checkpoint_every == 0 or step == cfg.ae_steps:
            _atomic_save({"model": ae.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                          "step": step, "losses": losses}, ckpt_path)
    bar.close()
    # Latent statistics over a sample of frames, so the denoiser sees unit-variance latents.
    with torch.no_grad():
        idx = torch.randperm(len(frames), generator=gen)[:8192]
        z = torch.cat([ae.encode_raw(frames_to_tensor(frames[idx[i:i + 1024]]).to(device))
                       for i in range(0, len(idx), 1024)])
        ae.latent_mean.copy_(z.mean(dim=(0, 2, 3)))
        ae.latent_std.copy_(z.std(dim=(0, 2, 3)))
    _atomic_save(ae.state_dict(), final)
    write_losses(out / "ae_losses.csv", losses)
    return ae


def stage_latents(cfg: TrainConfig, out: Path, ae: Autoencoder, clips: torch.Tensor) -> torch.Tensor:
    from tqdm import tqdm

    path = out / "latents.pt"
    if path.exists():
        return torch.load(path)
    device = _device()
    n, f = clips.shape[:2]
    frames = clips.reshape(n * f, *clips.shape[2:])
    parts = []
    with torch.no_grad():
        for i in tqdm(range(0, len(frames), 2048), desc="encode", unit="batch"):
            parts.append(ae.encode(frames_to_tensor(frames[i:i + 2048]).to(device)).half().cpu())
    z = torch.cat(parts).reshape(n, f, *parts[0].shape[1:])  # (N, F, C, S, S)
    _atomic_save(z, path)
    return z


def sample_timesteps(cfg: TrainConfig, b: int, gen: torch.Generator, frames: int | None = None) -> torch.Tensor:
    """Per-frame noise levels (B, F) in (0, 1) for ``frames`` frames (default: ``train_len``): logit-normal
    (shift-warped by ``train_shift``), per frame or shared per chunk, some chunks clean."""
    f, chunk = frames or cfg.dit.train_len, cfg.dit.chunk_size
    per_frame = warp(torch.sigmoid(torch.randn(b, f, generator=gen)), cfg.train_shift)
    per_chunk = warp(torch.sigmoid(torch.randn(b, f // chunk, generator=gen)), cfg.train_shift)
    per_chunk = per_chunk.repeat_interleave(chunk, dim=1)
    use_chunk = torch.rand(b, 1, generator=gen) < cfg.chunk_level_p
    t = torch.where(use_chunk, per_chunk, per_frame)
    clean = (torch.rand(b, f // chunk, generator=gen) < cfg.clean_p).repeat_interleave(chunk, dim=1)
    return torch.where(clean, torch.full_like(t, CLEAN_T), t)


def long_span(cfg: TrainConfig, gen: torch.Generator) -> tuple[int, int]:
    """The span of the clips that one step of a model with long short-term context trains on: (first frame,
    frames). Its last ``short_window`` frames are the short-term window (noisy, with loss); the coarse
    frames before it, a multiple of the chunk from 0 to all the clip allows, are clean context."""
    chunk, short = cfg.dit.chunk_size, cfg.dit.short_window
    most = (cfg.frames - short) // chunk
    coarse = int(torch.randint(most + 1, (1,), generator=gen)) * chunk
    first = int(torch.randint((cfg.frames - short - coarse) // chunk + 1, (1,), generator=gen)) * chunk
    return first, coarse + short


def long_timesteps(cfg: TrainConfig, b: int, frames: int, gen: torch.Generator) -> torch.Tensor:
    """Levels (B, frames) of a long span: the coarse frames clean, the short-term window as ``sample_timesteps``."""
    short = sample_timesteps(cfg, b, gen, cfg.dit.short_window)
    return torch.cat([torch.full((b, frames - short.shape[1]), CLEAN_T), short], dim=1)


def sample_jumps(cfg: TrainConfig, t: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """For each clip, one noisy chunk that jumps and its jump size: (chunk index (B,), d (B,)).

    The chunk is drawn among the chunks that are not clean context; ``d = t`` (a whole jump) with
    probability ``full_jump_p``, else ``d = t * r`` with r log-uniform in [1/32, 1]."""
    b, f = t.shape
    chunk = cfg.dit.chunk_size
    level = t[:, ::chunk]  # (B, F / chunk): the first frame's level stands for its chunk
    noisy = (level >= 0).float() + 1e-6  # a clip with every chunk clean still picks one (its loss is masked)
    idx = torch.multinomial(noisy, 1, generator=gen)[:, 0]
    t_chunk = level.gather(1, idx[:, None])[:, 0].clamp(min=0)
    r = torch.exp(torch.rand(b, generator=gen) * np.log(1 / 32))
    whole = torch.rand(b, generator=gen) < cfg.full_jump_p
    return idx, t_chunk * torch.where(whole, torch.ones_like(r), r)


def self_consistency_target(model: TinyDiT, xt: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                            jump: torch.Tensor, min_jump: float) -> torch.Tensor:
    """Mean velocity of two half jumps, made by ``model`` without gradient: (B, F, C, S, S).

    ``jump (B, F)`` is d on the jumping frames and 0 elsewhere; only jumping frames move."""
    half = jump / 2
    half_cond = torch.where(half >= min_jump, half, torch.zeros_like(half))
    with torch.no_grad():
        v1 = model(xt, t, cond, jump=half_cond).float()
        moving = (jump > 0)[..., None, None, None]
        x_mid = torch.where(moving, xt - half[..., None, None, None] * v1, xt)
        t_mid = torch.where(jump > 0, t - half, t)
        v2 = model(x_mid, t_mid, cond, jump=half_cond).float()
    return (v1 + v2) / 2


def denoiser_lr(cfg: TrainConfig, step: int) -> float:
    """Warm-up, stable, decay: linear warm-up, constant ``lr``, cosine to 0 over ``decay_steps``."""
    lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
    decay = min(cfg.decay_steps, cfg.steps)
    into_decay = step - (cfg.steps - decay)
    if decay and into_decay >= 0:
        lr *= 0.5 * (1 + np.cos(np.pi * min(1.0, (into_decay + 1) / decay)))
    return float(lr)


def stage_denoiser(cfg: TrainConfig, out: Path, latents: torch.Tensor, cond: torch.Tensor, *,
                   until: int | None = None) -> TinyDiT:
    """Train (or resume) the denoiser to ``cfg.steps``, or pause at step ``until`` (checkpointed there, the
    schedule unchanged, so a later resume goes on exactly as if it had not stopped); returns the EMA."""
    from tqdm import tqdm

    device = _device()
    torch.manual_seed(cfg.seed)
    model = build_dit(cfg.dit).to(device)
    ema = build_dit(cfg.dit).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    model.null_trained = ema.null_trained = cfg.prompt_dropout > 0  # exported only when trained
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    ckpt_path = out / "dit_ckpt.pt"
    step, history, elapsed = 0, [], 0.0
    if cfg.init_from and not ckpt_path.exists():
        warm_start(model, cfg.init_from)
        if cfg.dit.long:  # coarse tokens start as pooled fine ones; the zero gates keep the warm model's function
            model.init_context_from_fine()
        ema.load_state_dict(model.state_dict())
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        _load_dit(model, ckpt["model"])
        _load_dit(ema, ckpt["ema"])
        opt.load_state_dict(ckpt["opt"])
        gen.set_state(ckpt["gen"])
        step, history, elapsed = ckpt["step"], ckpt["history"], ckpt.get("elapsed", 0.0)
        log.info("resumed the denoiser at step %d", step)
    use_bf16 = cfg.bf16 and fast_bf16(device)
    if cfg.bf16 and not use_bf16:
        log.warning("bf16 autocast is off: this %s has no fast bf16 kernels (on an AVX2-only CPU a bf16 matmul "
                    "is ~50x slower than float32); training in float32.", device.type)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)
    bar = tqdm(total=cfg.steps, initial=step, desc="denoiser", unit="step")
    t_start = time.time() - elapsed
    end = cfg.steps if until is None else min(until, cfg.steps)
    while step < end:
        _follow_thread_file(out)  # every step: pinned to one core with two threads, a step is 6x slower
        idx = torch.randint(len(latents), (cfg.batch,), generator=gen)
        first, frames = long_span(cfg, gen) if cfg.dit.long else (0, cfg.dit.train_len)
        x0 = latents[idx, first:first + frames].float().to(device)  # (B, F, C, S, S)
        c = cond[idx].to(device)
        if cfg.prompt_dropout > 0:  # drawn only when on, so recipes without it keep their random stream
            drop = (torch.rand(cfg.batch, generator=gen) < cfg.prompt_dropout).to(device)
            c = torch.where(drop[:, None], null_prompt(c), c)
        t = (long_timesteps(cfg, cfg.batch, frames, gen) if cfg.dit.long
             else sample_timesteps(cfg, cfg.batch, gen)).to(device)  # (B, F)
        # Self-consistency rows (the first n_sc clips) use one level per chunk, as the sampler does.
        n_sc = int(round(cfg.shortcut_p * cfg.batch)) if cfg.dit.jump and step >= cfg.shortcut_start else 0
        if n_sc:
            t[:n_sc] = t[:n_sc, ::cfg.dit.chunk_size].repeat_interleave(cfg.dit.chunk_size, dim=1)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        sigma = t.clamp(min=0)[..., None, None, None]
        xt = torch.where((t < 0)[..., None, None, None], x0, (1 - sigma) * x0 + sigma * noise)
        target = noise - x0
        weight = (t >= 0).float()  # (B, F): no loss on clean context frames
        # One chunk of each self-consistency row jumps; its target is bootstrapped from two half jumps.
        jump = None
        if n_sc:
            jump_chunk, d = sample_jumps(cfg, t[:n_sc].cpu(), gen)
            frame_chunk = torch.arange(frames) // cfg.dit.chunk_size
            jumping = (frame_chunk[None] == jump_chunk[:, None]).to(device)  # (n_sc, F)
            jump = torch.zeros_like(t)
            jump[:n_sc] = torch.where(jumping, d[:, None].to(device), torch.zeros_like(t[:n_sc]))
            jump = torch.where(t >= 0, jump, torch.zeros_like(jump))
            with autocast:
                sc = self_consistency_target(model, xt[:n_sc], t[:n_sc], c[:n_sc], jump[:n_sc], cfg.min_jump)
            sc_frames = torch.zeros_like(t, dtype=torch.bool)
            sc_frames[:n_sc] = jumping & (jump[:n_sc] > 0)
            target = target.clone()
            target[:n_sc] = torch.where(sc_frames[:n_sc, :, None, None, None], sc, target[:n_sc])
        lr = denoiser_lr(cfg, step)
        for group in opt.param_groups:
            group["lr"] = lr
        with autocast:
            pred = model(xt, t, c, jump=jump)
        per_frame = (pred.float() - target).pow(2).mean(dim=(2, 3, 4))  # (B, F)
        loss = (per_frame * weight).sum() / weight.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - cfg.ema)
        step += 1
        history.append((step, float(loss.detach()), time.time() - t_start))
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if step % cfg.checkpoint_every == 0 or step == end:
            _atomic_save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                          "gen": gen.get_state(), "step": step, "history": history,
                          "elapsed": time.time() - t_start}, ckpt_path)
            write_losses(out / "dit_losses.csv", [h[1] for h in history])
    bar.close()
    return ema


def _follow_thread_file(out: Path) -> None:
    """A number in ``out/threads`` sets torch's thread count while training runs (e.g. 1 while the
    machine's other core is busy: two threads on a shared core spin and run several times slower)."""
    try:
        n = int((out / "threads").read_text().strip())
    except (OSError, ValueError):
        return
    if n >= 1 and n != torch.get_num_threads():
        torch.set_num_threads(n)
        log.info("now training on %d threads", n)


def _load_dit(dit: TinyDiT, state: dict) -> None:
    """Load a denoiser checkpoint; one from before prompt dropout existed lacks only ``null_cond``."""
    missing, unexpected = dit.load_state_dict(state, strict=False)
    if [k for k in missing if k != "null_cond"] or unexpected:
        raise ValueError(f"The denoiser checkpoint does not match its config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}.")


# Parameters a warm start may lack: those of features added since (their outputs start at zero) and the
# long short-term context's (initialised from the fine stream's, ``TinyLongDiT.init_context_from_fine``).
WARM_START_NEW = ("null_cond", "null_token", "text_mlp.", ".norm3.", ".cross_", "context_embed.", "coarse_embed",
                  "long_parts.")


def _exported_state(source: str | Path, prefix: str, field: str) -> dict:
    """The tensors under ``prefix`` (``ae.`` or ``dit.``) of exported weights (a ``tiny.safetensors``)."""
    from safetensors.torch import load_file

    path = Path(source)
    if not path.is_file() or path.suffix != ".safetensors":
        raise FileNotFoundError(f"{field} = {str(source)!r} is not an exported tiny.safetensors file.")
    state = {k[len(prefix):]: v for k, v in load_file(str(path)).items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"{field} = {str(source)!r} holds no {prefix[:-1]} tensors (is it a built-in model's "
                         f"weights?).")
    return state


def warm_start(dit: TinyDiT, source: str | Path) -> None:
    """Load the EMA weights of an earlier run (folder or ``dit_ckpt.pt``) or exported weights (a
    ``tiny.safetensors``, e.g. the shipped ones) into ``dit``; only parameters of features added since may
    be missing (see ``WARM_START_NEW``), nothing may be unexpected."""
    path = Path(source)
    path = path / "dit_ckpt.pt" if path.is_dir() else path
    if path.suffix == ".safetensors":
        state, step = _exported_state(path, "dit.", "init_from"), "exported"
    elif path.is_file():
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        state, step = ckpt["ema"], ckpt.get("step")
    else:
        raise FileNotFoundError(f"init_from = {str(source)!r} is neither a training run folder with a dit_ckpt.pt, "
                                f"such a file, nor exported weights (a .safetensors file).")
    try:
        missing, unexpected = dit.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a tensor of another shape
        raise ValueError(f"init_from = {str(source)!r} does not fit this denoiser: {str(err).splitlines()[-1].strip()}"
                         ) from None
    foreign = [k for k in missing if not any(tag in k for tag in WARM_START_NEW)]
    if foreign or unexpected:
        raise ValueError(f"init_from = {str(source)!r} does not fit this denoiser: missing {foreign[:5]}, "
                         f"unexpected {unexpected[:5]}; only layers added since ({', '.join(WARM_START_NEW)}) may "
                         f"be missing.")
    log.info("warm start from %s (its step %s); %d new parameter tensors", path, step, len(missing))


def export(cfg: TrainConfig, ae: Autoencoder, dit: TinyDiT, target: Path) -> Path:
    """Write ``tiny.safetensors`` (autoencoder + EMA denoiser) and ``tiny.json`` into ``target``."""
    from longroll.models.tiny.weights import save_tiny

    return save_tiny(ae, dit, target, extra=_export_meta(cfg))


def _export_meta(cfg: TrainConfig, **extra) -> dict:
    """What ``tiny.json`` records beside the architecture: the recipe, and the sampler to ship if chosen."""
    meta = {"train": cfg.to_dict(), **extra}
    if cfg.inference is not None:
        meta["inference"] = cfg.inference
    return meta


def export_checkpoint(out: str | Path, target: str | Path) -> Path:
    """Export the EMA weights of the latest denoiser checkpoint (e.g. of a run still in progress)."""
    out = Path(out)
    cfg = TrainConfig.from_dict(json.loads((out / "config.json").read_text()))
    if not (out / "ae.pt").exists() or not (out / "dit_ckpt.pt").exists():
        raise FileNotFoundError(f"{str(out)!r} has no finished autoencoder and denoiser checkpoint yet.")
    ae = Autoencoder(cfg.ae)
    ae.load_state_dict(torch.load(out / "ae.pt", map_location="cpu"))
    dit = build_dit(cfg.dit)
    ckpt = torch.load(out / "dit_ckpt.pt", map_location="cpu", weights_only=False)
    _load_dit(dit, ckpt["ema"])
    dit.null_trained = cfg.prompt_dropout > 0 and "null_cond" in ckpt["ema"]
    extra = _export_meta(cfg, steps_done=ckpt["step"], train_seconds=ckpt.get("elapsed"))
    from longroll.models.tiny.weights import save_tiny

    write_losses(out / "dit_losses.csv", [h[1] for h in ckpt["history"]])
    Path(target).mkdir(parents=True, exist_ok=True)
    plot_losses(out, Path(target) / "loss_curves.png")
    return save_tiny(ae, dit, target, extra=extra)


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 compute is fast here: a CUDA device that supports it, or a CPU whose oneDNN has bf16
    kernels (AVX-512 or AMX); elsewhere bf16 is emulated and far slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


STAGES = ("data", "autoencoder", "latents", "denoiser")


def train(cfg: TrainConfig, out: str | Path, export_to: str | Path | None = None, *,
          stop_after: str | None = None, until: int | None = None) -> None:
    """Run (or resume) every stage; write weights to ``export_to`` when the denoiser is done.

    ``stop_after`` ends the run after that stage (e.g. to check the autoencoder alone first); ``until``
    pauses the denoiser at that step (a session's share of a long run; nothing is exported then)."""
    if stop_after is not None:
        check_choice("stop_after", stop_after, STAGES)
    if until is not None:
        check_int("until", until, low=1, high=cfg.steps)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    data = stage_data(cfg, out)
    if stop_after == "data":
        return
    ae = stage_autoencoder(cfg, out, data["clips"])
    if stop_after == "autoencoder":
        return
    latents = stage_latents(cfg, out, ae, data["clips"])
    if stop_after == "latents":
        return
    dit = stage_denoiser(cfg, out, latents, data["cond"], until=until)
    if export_to is not None and (until is None or until == cfg.steps):
        export(cfg, ae, dit, Path(export_to))
        plot_losses(out, Path(export_to) / "loss_curves.png")


__all__ = ["TrainConfig", "export", "export_checkpoint", "sample_timesteps", "train"]
