"""The chunk-wise rollout's reference: the same Euler algorithm without a cache (every step reruns
the whole causal prefix). Shared by the built-in model's and the causal Wan's equivalence tests."""

import torch


def uncached_reference(den, cond, frames, config, seed=0):
    """The same algorithm without a cache: every step runs the whole causal prefix."""
    f = den.chunk_size
    gen = torch.Generator().manual_seed(seed)
    noise = config.noise.sampler(gen)
    sig = config.schedule.sigmas().tolist()
    rope = den.rope_freqs.with_temporal(config.rope.temporal(den.rope_freqs.temporal, train_len=den.train_len,
                                                             length=frames))
    scale = config.rope.attention_scale(train_len=den.train_len, length=frames)
    clean = torch.zeros(1, 0, *den.latent_shape)
    with torch.no_grad():
        for start in range(0, frames, f):
            x = noise.sample(start, (1, f, *den.latent_shape))
            for s, s_next in zip(sig[:-1], sig[1:]):
                seq = torch.cat([clean, x], dim=1)
                t = torch.cat([torch.full((1, start), float(den.context_timestep)), torch.full((1, f), s)], dim=1)
                v = den(seq, t, cond, rope=rope, attention_scale=scale, bias=config.bias)[:, start:]
                x = x + (s_next - s) * v
            clean = torch.cat([clean, x], dim=1)
    return clean
