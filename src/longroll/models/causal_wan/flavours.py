"""What each family of causal Wan2.1 checkpoints does in its own released inference, as read.

One ``FlavourRecord`` per family, read from the family's public repository at the commit named
(facts only, with the files they come from; no code taken). ``rollout_spec.spec_for`` builds a
flavour's defaults from its record, so ``--preset none`` reproduces the family's own inference and
every other preset starts from it. Terms, as the repositories spell them:

- ``denoising_step_list``: the timesteps of one chunk on Wan's 0-1000 scale, without the final 0.
  With ``warp_denoising_step: true`` each entry ``t`` becomes the scheduler's timestep at index
  ``1000 - t``, i.e. ``t / 1000`` warped by the shift ``s sigma / (1 + (s - 1) sigma)``; without it
  the entries are used as written.
- The scheduler (``FlowMatchScheduler(shift, sigma_min=0, extra_one_step=True)`` set to 1000
  training timesteps) re-noises (``add_noise``) and converts the flow prediction to x0 at the
  sigma of the grid point nearest the timestep. For warped lists that is the listed level; for
  CausVid's unwarped list it differs by up to ~5e-4 (``grid_shift``).
- ``local_attn_size`` / ``sink_size``: the window and sink in latent frames (-1: global attention
  over a cache of 32760 tokens = 21 frames of 1560 tokens; the code fails past it, Self Forcing
  issue #39). ``context_noise``: timestep of the clean-context pass (0 in all of them).
- The text context: UMT5-XXL, 512 tokens, padding zeroed; every family's model pads a shorter
  context with zeros to ``text_len = 512`` (``CausalWan`` does the same).

A family reproduced by another schedule than the chunk-wise rollout names it (``schedule``: Rolling
Forcing's ``rolling``). A family not reproduced would be recorded with ``reproduced = False`` and
refused as a flavour with the reason, rather than run as something it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from longroll._validate import check_choice, check_float, check_int
from longroll.models.base import NATIVE_SWITCHES, POSITIONS

SF_STEPS = (1000.0, 750.0, 500.0, 250.0)  # Self Forcing's denoising_step_list (configs/self_forcing_dmd.yaml)


@dataclass(frozen=True)
class FlavourRecord:
    """A family's released inference settings, with where they were read."""

    name: str  # flavour name in longroll
    repository: str  # GitHub owner/name read
    commit: str  # commit of the snapshot read
    checkpoint: str  # the released weights file and the state-dict key the inference script loads
    ema: bool  # whether its documented inference command loads 'generator_ema' (--use_ema / use_ema)
    sources: tuple[str, ...]  # files the settings below were read from
    chunk: int  # num_frame_per_block (latent frames denoised together; 1 = frame-wise)
    timesteps: tuple[float, ...]  # denoising_step_list without the final 0
    warp_shift: float | None  # timestep_shift the list is warped by (None: warp_denoising_step false)
    grid_shift: float | None = None  # scheduler grid shift when it differs from the list's (CausVid: 8)
    first_timesteps: tuple[float, ...] | None = None  # denoising_step_list_first_chunk (Causal Forcing++)
    window: int = 21  # local_attn_size in latent frames (global attention: the 21-frame cache)
    sink: int = 0  # sink_size
    positions: str = "absolute"  # keys rotated at their timeline ("absolute") or by slot in the window
    sink_ema: float | None = None  # EMA-Sink rate a: sink <- a sink + (1 - a) leaving frames
    train_len: int = 21  # latent frames of its training clips (streams, for LongLive)
    switch: str | None = None  # prompt-switch policy of its own inference (None: it has none)
    context_timestep: float = 0.0  # context_noise
    text_len: int = 512  # text tokens, zero-padded
    lora: tuple[int, float] | None = None  # (rank, alpha) of the LoRA its inference merges, if any
    schedule: str = "chunk"  # longroll's schedule that reproduces it ("rolling": Rolling Forcing's window)
    reproduced: bool = True  # whether longroll reproduces its inference
    differences: str = ""  # what longroll does not reproduce, or where it goes past the released code

    def __post_init__(self) -> None:
        check_int("chunk", self.chunk, low=1)
        for v in self.timesteps:
            check_float("timestep", v, low=0.0, high=1000.0, low_open=True)
        if self.warp_shift is not None:
            check_float("warp_shift", self.warp_shift, low=0.0, low_open=True)
        check_int("window", self.window, low=self.chunk)
        check_int("sink", self.sink, low=0, high=self.window - self.chunk)
        check_choice("positions", self.positions, POSITIONS)
        if self.switch is not None:
            check_choice("switch", self.switch, NATIVE_SWITCHES)
        check_int("train_len", self.train_len, low=self.chunk)


_SF_SOURCES = ("configs/self_forcing_dmd.yaml", "pipeline/causal_inference.py", "utils/wan_wrapper.py",
               "utils/scheduler.py", "wan/modules/causal_model.py", "inference.py")

RECORDS: dict[str, FlavourRecord] = {
    "self-forcing": FlavourRecord(
        name="self-forcing", repository="guandeh17/Self-Forcing", commit="33593df",
        checkpoint="checkpoints/self_forcing_dmd.pt: 'generator_ema' (README: --use_ema)", ema=True,
        sources=(*_SF_SOURCES, "README.md"), chunk=3, timesteps=SF_STEPS, warp_shift=5.0,
        differences="Past 21 latent frames the released code stops (its 32760-token cache overflows, issue #39); "
                    "longroll slides the same 21-frame window on (issue #63's local_attn_size workaround)."),
    "longlive": FlavourRecord(
        name="longlive", repository="NVlabs/LongLive", commit="e52d9ef (branch v1.0)",
        checkpoint="models/longlive_base.pt: 'generator' (use_ema: false), then models/lora.pt (PEFT) merged",
        ema=False,
        sources=("configs/longlive_inference.yaml", "configs/longlive_interactive_inference.yaml",
                 "configs/longlive_train_long.yaml", "pipeline/interactive_causal_inference.py",
                 "wan/modules/causal_model.py", "utils/lora_utils.py", "inference.py"),
        chunk=3, timesteps=SF_STEPS, warp_shift=5.0, window=12, sink=3, train_len=240, switch="longlive",
        lora=(256, 256.0),
        differences="The released RoPE table has 1024 rows (about 256 s); longroll computes positions, so "
                    "nothing stops there. The re-cache after a switch runs the frames the window still reads "
                    "(LongLive runs min(12, t), whose oldest 3 its window no longer reads: the same cache)."),
    "causvid": FlavourRecord(
        name="causvid", repository="tianweiy/CausVid", commit="ca21150",
        checkpoint="autoregressive_checkpoint/model.pt: 'generator'", ema=False,
        sources=("configs/wan_causal_dmd.yaml", "causvid/models/wan/causal_inference.py",
                 "causvid/models/wan/wan_wrapper.py", "causvid/models/wan/flow_match.py",
                 "minimal_inference/autoregressive_inference.py"),
        chunk=3, timesteps=(1000.0, 757.0, 522.0), warp_shift=None, grid_shift=8.0,
        differences="Its long-video script restarts a fresh 21-frame rollout from the last frames re-encoded "
                    "by the VAE (minimal_inference/longvideo_autoregressive_inference.py); longroll slides the "
                    "21-frame window instead. Its 4-step config (wan_causal_dmd_warp_4step_cfg2.yaml) has no "
                    "released checkpoint."),
    "causal-forcing": FlavourRecord(
        name="causal-forcing", repository="thu-ml/Causal-Forcing", commit="1fc7bbc",
        checkpoint="chunkwise/causal_forcing.pt: 'generator' (README: no --use_ema)", ema=False,
        sources=("configs/causal_forcing_dmd_chunkwise.yaml", "configs/default_config.yaml",
                 "pipeline/causal_inference.py", "utils/wan_wrapper.py", "inference.py", "README.md"),
        chunk=3, timesteps=SF_STEPS, warp_shift=5.0,
        differences="As Self Forcing past 21 frames. Its minute-long model (chunkwise/longvideo.pt) runs "
                    "Rolling Forcing's inference: see rolling-forcing."),
    "causal-forcing-frame": FlavourRecord(
        name="causal-forcing-frame", repository="thu-ml/Causal-Forcing", commit="1fc7bbc",
        checkpoint="framewise/causal_forcing.pt: 'generator_ema' (README: --use_ema)", ema=True,
        sources=("configs/causal_forcing_dmd_framewise.yaml", "configs/default_config.yaml",
                 "pipeline/causal_inference.py", "README.md"),
        chunk=1, timesteps=SF_STEPS, warp_shift=5.0,
        differences="As Self Forcing past 21 frames."),
    "causal-forcing-frame-2step": FlavourRecord(
        name="causal-forcing-frame-2step", repository="thu-ml/Causal-Forcing", commit="1fc7bbc",
        checkpoint="causal-forcing++/framewise-2step.pt: 'generator_ema' (README: --use_ema)", ema=True,
        sources=("configs/causal_forcing_dmd_framewise_2step.yaml", "pipeline/causal_inference.py", "README.md"),
        chunk=1, timesteps=(1000.0, 500.0), warp_shift=5.0, first_timesteps=SF_STEPS,
        differences="As Self Forcing past 21 frames."),
    "causal-forcing-frame-1step": FlavourRecord(
        name="causal-forcing-frame-1step", repository="thu-ml/Causal-Forcing", commit="1fc7bbc",
        checkpoint="causal-forcing++/framewise-1step.pt: 'generator_ema' (README: --use_ema)", ema=True,
        sources=("configs/causal_forcing_dmd_framewise_1step.yaml", "pipeline/causal_inference.py", "README.md"),
        chunk=1, timesteps=(1000.0,), warp_shift=5.0, first_timesteps=SF_STEPS,
        differences="As Self Forcing past 21 frames."),
    "reward-forcing": FlavourRecord(
        name="reward-forcing", repository="JaydenLyh/Reward-Forcing (read in a copy: wangbei1/rlbaseline, "
        "Reward-Forcing-main/)", commit="48bbb96",
        checkpoint="Reward-Forcing-T2V-1.3B/rewardforcing.pt (Hugging Face JaydenLu666): a plain generator state "
        "dict", ema=False,
        sources=("configs/reward_forcing.yaml", "pipeline/causal_inference.py", "wan/modules/causal_model.py",
                 "inference.py", "README.md"),
        chunk=3, timesteps=SF_STEPS, warp_shift=5.0, window=9, sink=3, positions="relative", sink_ema=0.999,
        differences="When the frames leaving are not as many as the sink (a chunk other than 3), its code "
                    "overwrites the sink with them; longroll folds their mean into the sink instead."),
    "rolling-forcing": FlavourRecord(
        name="rolling-forcing", repository="TencentARC/RollingForcing", commit="a1477d0",
        checkpoint="checkpoints/rolling_forcing_dmd.pt: 'generator_ema' (README: --use_ema)", ema=True,
        sources=("configs/rolling_forcing_dmd.yaml", "pipeline/rolling_forcing_inference.py",
                 "wan/modules/causal_model.py"),
        chunk=3, timesteps=(1000.0, 800.0, 600.0, 400.0, 200.0), warp_shift=5.0, window=21, sink=3,
        positions="relative", schedule="rolling",
        differences="Not a chunk-wise rollout: a window of 5 chunks at the 5 levels is denoised jointly in one "
                    "forward (longroll's `rolling` schedule, its default for this flavour). Its window forward reads "
                    "the anchor chunk and the 3 most recent clean frames; the clean-cache pass reads the last 21 "
                    "clean frames. Its cache keeps the first chunk's keys written at the noise level of each main "
                    "forward before the clean pass overwrites them; nothing reads them in between, so longroll "
                    "does not write them."),
}


def record_for(flavour: str) -> FlavourRecord:
    """The record of a flavour longroll reproduces (a clear error for one it records but does not)."""
    check_choice("flavour", flavour, RECORDS)
    record = RECORDS[flavour]
    if not record.reproduced:
        raise ValueError(f"flavour {flavour!r} is recorded but not reproduced: {record.differences} "
                         f"(reproduced: {', '.join(n for n, r in RECORDS.items() if r.reproduced)}).")
    return record


__all__ = ["RECORDS", "FlavourRecord", "record_for"]
