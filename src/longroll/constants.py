"""Values the papers and the released models state, each written once with its source.

Everything else derives from these: the built-in model's horizon geometry copies the Self Forcing
checkpoint's, the presets take FLEX's stated defaults, and the diagonal schedules MIGA's.
"""

from __future__ import annotations

# --- Wan2.1 (arXiv 2503.20314; Wan2.1-T2V-1.3B config: dim 1536, 12 heads) -------------------------
WAN21_HEAD_DIM = 128  # attention head dim of Wan2.1 (1536 / 12 for 1.3B, 5120 / 40 for 14B)
WAN21_TEMPORAL_DIM = WAN21_HEAD_DIM - 4 * (WAN21_HEAD_DIM // 6)  # 44: Wan's rope_params split, 22 planes
ROPE_THETA = 10000.0  # RoPE base of Wan2.1 (RoFormer's default)
WAN21_FPS = 16.0  # video frame rate of Wan2.1

# --- Self Forcing (arXiv 2506.08009) / LongLive (arXiv 2509.22622) inference ---------------------
SELF_FORCING_TRAIN_LEN = 21  # latent frames per training clip (81 video frames at 16 fps)
SELF_FORCING_CHUNK = 3  # latent frames denoised together (num_frame_per_block)
SELF_FORCING_TIMESTEPS = (1000, 750, 500, 250)  # denoising_step_list, warped by the shift below
SELF_FORCING_SHIFT = 5.0  # timestep_shift of its sampler
LONGLIVE_WINDOW = 12  # local_attn_size: latent frames attended (sink and current chunk included)
LONGLIVE_SINK = 3  # sink_size: first latent frames kept for the whole rollout

# --- FLEX, "Train Short, Inference Long" (shared/papers/flex_train_short_inference_long.md) -------
FLEX_TRAIN_LEN = 21  # the L_train for which FLEX states alpha and beta
FLEX_ALPHA = 0.1  # eq. 9: planes with exposure r < alpha are fully interpolated
FLEX_BETA = 2.5  # eq. 9: planes with exposure r > beta are kept (extrapolated)
FLEX_RHO = -1.0  # §3.3: antiphase correlation of adjacent noise frames
FLEX_SINK = 3  # §3.4: N sink frames
FLEX_TABLE4_BETAS = (0.5, 1.0, 1.5, 2.0, 3.0)  # §4.3 Table 4: beta swept with alpha fixed at FLEX_ALPHA
FLEX_TABLE4_ALPHAS = (0.001, 0.005, 0.01, 0.5)  # §4.3 Table 4: alpha swept, beta fixed at FLEX_BETA
FLEX_FIG5_RHOS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # §4.3 Fig. 5: rho swept from -1 to 1

# --- Training-free extenders of Self Forcing (each paper's stated defaults) ------------------------
INFINITY_ROPE_FLUSH_KEEP = 1  # arXiv 2511.20649 §3.2: KV Flush keeps the sink and the last latent frame
# RoPE Cut: positions skipped at a cut, in L_train (its code: block at 45 after 3 kept, L=21)
INFINITY_ROPE_CUT_GAP = 2
DEEP_FORCING_WINDOW = 21  # arXiv 2512.05081 §5.1: Self Forcing's cache of 21 latent frames (M)
DEEP_FORCING_SINK = 10  # §5.1: Deep Sink S = 10 frames of that window
DEEP_FORCING_BUDGET = 16  # §5.1: Participative Compression budget N = 16 frames
DEEP_FORCING_RECENT = 4  # §5.1: R = 4 most recent frames never compressed
LOL_JITTER = 0.8  # arXiv 2601.16914: the multi-head RoPE jitter strength found best (applied to every head)
MEMROPE_RATES = (0.01, 0.1)  # arXiv 2603.12513 eq. 3-4: EMA rates (alpha_L, alpha_S) of the memory streams

# --- MIGA (shared/papers/miga_infinite_frame_generation.txt; its README's Wan2.1 settings) ---------
MIGA_WAN_DIAGONAL = {  # DiagonalDefaults fields for Wan2.1-T2V-1.3B
    "steps": 54,  # T: steps from noise to clean
    "k": 7,  # frames per noise level (zigzag)
    "stage2_steps": 10,  # T2: steps at one shared level
    "judge": 10,  # judgement index, chunks from the queue tail
    "delta": 0.001,  # score drop that triggers self-reflection
}
MIGA_GUIDANCE = 4  # m: long-range guidance frames per window
MIGA_CANDIDATES = 3  # c: candidate noise chunks per self-reflection search

# --- FAR (arXiv 2503.19325) ----------------------------------------------------------------------
FAR_CLEAN_P = 0.1  # stochastic clean context: probability a context chunk is clean in training
FLEXROPE_LAMBDA = 0.2  # FlexRoPE temporal decay slope

# --- Recency Forcing (arXiv 2609.19729), training-free variant ------------------------------------
# Logit decay per frame of a history frame's distance before the chunk, at noise level 1. longroll's
# choice (the paper's value was not reachable): the oldest frame of Self Forcing's 21-frame window then
# loses about 1.8 of its logit at the first step and nothing at the clean-context pass.
RECENCY_GAMMA = 0.1

# --- Display --------------------------------------------------------------------------------------
TINY_UPSCALE = 8  # nearest-neighbour upscale of the built-in model's 32x32 frames for viewing
