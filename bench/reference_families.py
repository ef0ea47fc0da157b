"""The families' own inference, imported at run time from a local checkout of their repository.

``bench_causal_wan.py --reference PATH`` compares longroll with the code a family released, on the
same weights, device and dtype. Nothing of that code is copied into longroll: this module puts the
user's checkout on ``sys.path``, tells the family from the files it holds (``FAMILIES``), imports
its ``CausalWanModel`` and ``CausalInferencePipeline`` and drives them as the repository's
``inference.py`` does with the family's released settings:

- **Self Forcing** (guandeh17/Self-Forcing, ``configs/self_forcing_dmd.yaml``): 3 frames a block,
  timesteps 1000 750 500 250 warped by shift 5, clean context at timestep 0, global attention over
  its 21-frame cache (``local_attn_size = -1``).
- **LongLive** 1.0 (NVlabs/LongLive, branch ``v1.0``, ``configs/longlive_inference.yaml``): the
  same sampler, a 12-frame local window with a 3-frame sink (``local_attn_size: 12``,
  ``sink_size: 3``); each forward attends to a copy of its cache and writes the new keys after the
  last block, as its ``causal_model.py`` does. Its LoRA is taken as merged into the weights (the
  bench's weights are random); its own ``inference.py`` runs it through PEFT, unmerged, which
  costs it more than this comparison charges it.

Three adjustments that the checkout's own entry point would make through files that a benchmark
does not have, each said where it is made:

1. The model is built from its constructor (``WanDiffusionWrapper`` would read
   ``wan_models/Wan2.1-T2V-1.3B/``) and given longroll's weights, so both run the same numbers.
2. The pipelines' token constants are written for 480 x 832 (1,560 tokens a latent frame, a
   32,760-token global cache = 21 frames, 30 blocks); at another frame size or depth they are set
   to the same frames at that size, so the reference keeps its own window in frames.
3. The text encoder is not run: both sides get the same encoder states (a UMT5 forward is the
   same work for both and not what the comparison is about); the VAE is the family's own
   ``WanVAE_`` with random weights (its decode speed does not depend on them).

On a machine without CUDA, two modules that ask for the current CUDA device when imported are
replaced by stand-ins without that call: the FramePack memory helpers (``demo_utils/memory.py`` in
Self Forcing, ``utils/memory.py`` in LongLive; they serve only ``low_memory=True``) and
``wan/modules/t5.py`` (the text encoder, which is not run, see 3). Where flash-attn is not
installed, the cross-attention's ``flash_attention`` (which requires it) is pointed at the same
file's ``attention``, the SDPA fallback the families' self-attention uses then. One family per
process: both name their packages ``wan``, ``pipeline`` and ``utils``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch

# The families' sampler (configs/self_forcing_dmd.yaml of guandeh17/Self-Forcing and
# configs/longlive_inference.yaml of NVlabs/LongLive v1.0: the same four steps, shift and blocks).
SAMPLER_ARGS = {"denoising_step_list": [1000, 750, 500, 250], "warp_denoising_step": True,
                "num_frame_per_block": 3, "independent_first_frame": False, "context_noise": 0,
                "timestep_shift": 5.0}
FRAME_TOKENS = 1560  # the pipelines' frame_seq_length: 480 x 832 latents (60 x 104), patch 2 x 2
GLOBAL_CACHE_TOKENS = 32760  # their cache and attention limit without a local window: 21 frames


@dataclass(frozen=True)
class Family:
    """What tells a family's checkout apart and how its released inference is configured."""

    name: str  # longroll's flavour of the same family (models.causal_wan.flavours)
    repository: str  # owner/name on GitHub
    files: tuple[str, ...]  # files its causal inference needs; the first family whose files all exist wins
    memory_module: str  # the FramePack memory helpers' module (it asks for the CUDA device at import)
    window: int  # local_attn_size of its released inference (-1: global attention over its cache)
    sink: int  # sink_size of its released inference
    steady_window: int  # local_attn_size for a long video (Self Forcing's own stops at 21 frames)
    own_caches: bool  # its inference() allocates its caches itself (sized by the window and frame_seq_length)


FAMILIES = {
    # LongLive first: its checkout holds every file Self Forcing's does.
    "longlive": Family("longlive", "NVlabs/LongLive (branch v1.0)",
                       ("wan/modules/causal_model.py", "pipeline/causal_inference.py", "utils/wan_wrapper.py",
                        "utils/scheduler.py", "wan/modules/vae.py", "utils/memory.py", "utils/lora_utils.py"),
                       "utils.memory", window=12, sink=3, steady_window=12, own_caches=True),
    "self-forcing": Family("self-forcing", "guandeh17/Self-Forcing",
                           ("wan/modules/causal_model.py", "pipeline/causal_inference.py", "utils/wan_wrapper.py",
                            "utils/scheduler.py", "wan/modules/vae.py", "demo_utils/memory.py"),
                           "demo_utils.memory", window=-1, sink=0, steady_window=21, own_caches=False),
}


def detect_family(root: Path) -> Family:
    """The family whose files the checkout at ``root`` holds."""
    for family in FAMILIES.values():
        if all((root / p).is_file() for p in family.files):
            return family
    wanted = "; ".join(f"{f.repository}: {', '.join(f.files)}" for f in FAMILIES.values())
    raise ValueError(f"{root} is not a checkout of a family this bench can run; it looks for {wanted}.")


def _package(name: str, folder: Path) -> None:
    """Register ``name`` as a package over ``folder`` without running its ``__init__`` (the
    families' ``wan/__init__`` imports the 14B image-to-video pipeline and its dependencies, their
    ``pipeline/__init__`` every training pipeline)."""
    module = types.ModuleType(name)
    module.__path__ = [str(folder)]
    sys.modules[name] = module


def import_family(path: str | Path) -> SimpleNamespace:
    """The classes of a family's checkout that its causal inference needs."""
    root = Path(path).resolve()
    family = detect_family(root)
    for dep in ("einops", "ftfy", "diffusers", "regex"):
        if importlib.util.find_spec(dep) is None:
            raise ImportError(f"{family.repository}'s code imports {dep!r}; install it (pip install {dep}) to run it.")
    if "wan" in sys.modules and getattr(sys.modules["wan"], "__path__", [None])[0] != str(root / "wan"):
        raise RuntimeError("Another checkout's packages are already imported in this process; one family per process.")
    sys.path.insert(0, str(root))
    for name in ("wan", "wan.modules", "pipeline", "demo_utils", "utils"):
        if (root.joinpath(*name.split("."))).is_dir():
            _package(name, root.joinpath(*name.split(".")))
    if not torch.cuda.is_available():
        memory = types.ModuleType(family.memory_module)
        memory.gpu = torch.device("cpu")
        memory.get_cuda_free_memory_gb = lambda *a, **k: 0.0
        memory.log_gpu_memory = lambda *a, **k: None
        memory.DynamicSwapInstaller = memory.move_model_to_device_with_memory_preservation = None
        sys.modules[family.memory_module] = memory
        t5 = types.ModuleType("wan.modules.t5")
        t5.umt5_xxl = None
        sys.modules["wan.modules.t5"] = t5
    causal_model = importlib.import_module("wan.modules.causal_model")
    attention = importlib.import_module("wan.modules.attention")
    if not (attention.FLASH_ATTN_2_AVAILABLE or attention.FLASH_ATTN_3_AVAILABLE):
        importlib.import_module("wan.modules.model").flash_attention = attention.attention
    wrapper = importlib.import_module("utils.wan_wrapper")
    return SimpleNamespace(
        family=family, CausalWanModel=causal_model.CausalWanModel,
        CausalInferencePipeline=importlib.import_module("pipeline.causal_inference").CausalInferencePipeline,
        WanDiffusionWrapper=wrapper.WanDiffusionWrapper, WanVAEWrapper=wrapper.WanVAEWrapper,
        FlowMatchScheduler=importlib.import_module("utils.scheduler").FlowMatchScheduler,
        WanVAE_=importlib.import_module("wan.modules.vae").WanVAE_, root=root, commit=_commit(root),
        kernel="flash-attn 3" if attention.FLASH_ATTN_3_AVAILABLE else
        "flash-attn 2" if attention.FLASH_ATTN_2_AVAILABLE else "SDPA (its fallback, bf16)")


def _commit(root: Path) -> str:
    head = root / ".git" / "HEAD"
    if not head.is_file():
        return "unknown (not a git checkout)"
    ref = head.read_text().strip()
    if ref.startswith("ref: "):
        target = root / ".git" / ref[5:]
        return target.read_text().strip()[:12] if target.is_file() else ref[5:]
    return ref[:12]


class _Encoder(torch.nn.Module):
    """The text encoder's place in the pipeline: the given encoder states for every prompt."""

    def __init__(self, states: torch.Tensor) -> None:
        super().__init__()
        self.states = states

    def forward(self, text_prompts):
        return {"prompt_embeds": self.states.expand(len(text_prompts), -1, -1)}


@dataclass
class ForwardLog:
    """Every generator forward of a run (device synchronised around each): its start frame and times."""

    starts: list[int] = field(default_factory=list)  # the latent frame it starts at
    begins: list[float] = field(default_factory=list)  # perf_counter at each forward's start
    ends: list[float] = field(default_factory=list)  # perf_counter at each forward's end


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class FamilyReference:
    """A family's model and ``CausalInferencePipeline`` on longroll's weights.

    ``state``: a longroll ``CausalWan`` state dict (original Wan names, which the families use too);
    ``config``: its ``CausalWanConfig``; ``latent_hw``: the latent frame size; ``window`` and ``sink``:
    the local attention size and sink in frames (None: the family's released inference; window -1 is
    global attention over a 21-frame cache, Self Forcing's default)."""

    def __init__(self, ref: SimpleNamespace, config, state: dict, latent_hw: tuple[int, int], *,
                 device: torch.device, dtype: torch.dtype, window: int | None = None, sink: int | None = None,
                 vae: bool = False) -> None:
        family = ref.family
        window = family.window if window is None else window
        sink = family.sink if sink is None else sink
        if (config.num_heads, config.head_dim, config.text_len) != (12, 128, 512) and family.own_caches:
            raise ValueError(f"{family.repository}'s inference allocates its caches for Wan2.1-1.3B's 12 heads of "
                             f"128 and 512 text tokens; this config has {config.num_heads} x {config.head_dim}, "
                             f"{config.text_len}.")
        self.device, self.dtype, self.family = device, dtype, family
        model = ref.CausalWanModel(
            model_type="t2v", patch_size=tuple(config.patch_size), text_len=config.text_len,
            in_dim=config.in_channels, dim=config.dim, ffn_dim=config.ffn_dim, freq_dim=config.freq_dim,
            text_dim=config.text_dim, out_dim=config.out_channels, num_heads=config.num_heads,
            num_layers=config.num_layers, local_attn_size=window, sink_size=sink, qk_norm=config.qk_norm,
            cross_attn_norm=config.cross_attn_norm, eps=config.eps)
        model.load_state_dict(state, strict=True)
        # (1) WanDiffusionWrapper's constructor without its from_pretrained: the same attributes.
        wrapper = ref.WanDiffusionWrapper.__new__(ref.WanDiffusionWrapper)
        torch.nn.Module.__init__(wrapper)
        wrapper.model = model.eval()
        wrapper.uniform_timestep = False
        wrapper.scheduler = ref.FlowMatchScheduler(shift=SAMPLER_ARGS["timestep_shift"], sigma_min=0.0,
                                                   extra_one_step=True)
        wrapper.scheduler.set_timesteps(1000, training=True)
        wrapper.seq_len = GLOBAL_CACHE_TOKENS
        wrapper.post_init()
        vae_wrapper = None
        if vae:
            vae_wrapper = ref.WanVAEWrapper.__new__(ref.WanVAEWrapper)
            torch.nn.Module.__init__(vae_wrapper)
            vae_wrapper.mean, vae_wrapper.std = torch.zeros(16), torch.ones(16)  # latent statistics: any will do
            vae_wrapper.model = ref.WanVAE_(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                            attn_scales=[], temperal_downsample=[False, True, True],
                                            dropout=0.0).eval().requires_grad_(False)
        model_kwargs = SimpleNamespace(local_attn_size=window, sink_size=sink,
                                       timestep_shift=SAMPLER_ARGS["timestep_shift"])
        args = SimpleNamespace(**SAMPLER_ARGS, model_kwargs=model_kwargs)
        self.encoder = _Encoder(torch.zeros(1, config.text_len, config.text_dim))
        with contextlib.redirect_stdout(io.StringIO()):
            self.pipeline = ref.CausalInferencePipeline(args, device, generator=wrapper, text_encoder=self.encoder,
                                                        vae=_NoDecode())
        self.pipeline.to(device=device, dtype=dtype)
        if vae_wrapper is not None:
            vae_wrapper.model.to(device=device, dtype=dtype)
        self.vae = vae_wrapper
        # (2) The token constants at this frame size and depth: the same frames as at 480 x 832.
        tokens = config.tokens_per_frame(*latent_hw)
        self.tokens_per_frame = tokens
        self.pipeline.frame_seq_length = tokens
        self.pipeline.num_transformer_blocks = config.num_layers
        frames = GLOBAL_CACHE_TOKENS // FRAME_TOKENS if window == -1 else window
        for block in model.blocks:
            block.self_attn.max_attention_size = frames * tokens
        self.cache_frames, self.window, self.sink = frames, window, sink
        self._heads, self._head_dim = config.num_heads, config.head_dim
        self.log = ForwardLog()
        self._wrap_forward(wrapper)
        self.wrapper = wrapper

    def _wrap_forward(self, wrapper) -> None:
        forward, log, device = wrapper.forward, self.log, self.device

        def timed(*args, **kwargs):
            sync(device)
            t0 = time.perf_counter()
            out = forward(*args, **kwargs)
            sync(device)
            log.begins.append(t0)
            log.ends.append(time.perf_counter())
            log.starts.append(kwargs.get("current_start", 0) // self.tokens_per_frame)
            return out

        wrapper.forward = timed

    def _caches(self, batch: int) -> None:
        """Self Forcing's caches in its own layout, at this frame size (``_initialize_kv_cache`` with the
        token count of this size in place of 480 x 832's); LongLive's inference makes its own."""
        p, size = self.pipeline, self.cache_frames * self.tokens_per_frame
        shape = (batch, size, self._heads, self._head_dim)
        p.kv_cache1 = [{"k": torch.zeros(shape, dtype=self.dtype, device=self.device),
                        "v": torch.zeros(shape, dtype=self.dtype, device=self.device),
                        "global_end_index": torch.tensor([0], dtype=torch.long, device=self.device),
                        "local_end_index": torch.tensor([0], dtype=torch.long, device=self.device)}
                       for _ in range(p.num_transformer_blocks)]
        text = (batch, self.encoder.states.shape[1], self._heads, self._head_dim)
        p.crossattn_cache = [{"k": torch.zeros(text, dtype=self.dtype, device=self.device),
                              "v": torch.zeros(text, dtype=self.dtype, device=self.device), "is_init": False}
                             for _ in range(p.num_transformer_blocks)]

    def generate(self, noise: torch.Tensor, states: torch.Tensor, *, decode: bool = False, seed: int = 0):
        """The family's ``inference``: noise (B, F, C, H, W) -> latents (B, F, C, H, W) and, with
        ``decode``, the video its VAE makes of them; the log holds every forward's timing."""
        self.encoder.states = states.to(device=self.device, dtype=self.dtype)
        self.log.__init__()
        if not self.family.own_caches:
            self._caches(noise.shape[0])
        if decode and self.vae is None:
            raise ValueError("This reference was built without its VAE (vae=False).")
        self.pipeline.vae = self.vae if decode else _NoDecode()
        torch.manual_seed(seed)  # the re-noising between steps draws from the global generator
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):  # it prints every step
            video, latents = self.pipeline.inference(noise.to(self.device, self.dtype), ["prompt"] * noise.shape[0],
                                                     return_latents=True)
        sync(self.device)
        return latents, (video if decode else None)

    def free(self) -> None:
        self.pipeline.kv_cache1 = self.pipeline.crossattn_cache = None


class _NoDecode(torch.nn.Module):
    def decode_to_pixel(self, latent, use_cache=False):
        return latent


__all__ = ["FAMILIES", "SAMPLER_ARGS", "Family", "FamilyReference", "ForwardLog", "detect_family", "import_family",
           "sync"]
