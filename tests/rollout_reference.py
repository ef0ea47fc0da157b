"""The chunk-wise rollout's reference: the same sampler without a cache (every step reruns the
whole causal prefix). Shared by the built-in model's and the causal Wan's equivalence tests."""

import torch

from longroll.noise import iid_noise


def uncached_reference(den, cond, frames, config, seed=0):
    """The same algorithm without a cache: every step runs the whole causal prefix. Euler steps, or
    re-noising (x0, then fresh noise to the next level; a whole jump for models trained for it)."""
    d = den.defaults
    f = d.chunk_size
    gen = torch.Generator().manual_seed(seed)
    noise = config.noise.sampler(gen)
    sig = config.schedule.sigmas().tolist()
    rope = den.rope_freqs.with_temporal(config.rope.temporal(den.rope_freqs.temporal, train_len=d.train_len,
                                                             length=frames))
    scale = config.rope.attention_scale(train_len=d.train_len, length=frames)
    renoise = config.schedule.sampler == "renoise"
    clean = torch.zeros(1, 0, *den.latent_shape)
    with torch.no_grad():
        for start in range(0, frames, f):
            x = noise.sample(start, (1, f, *den.latent_shape))
            for i, (s, s_next) in enumerate(zip(sig[:-1], sig[1:])):
                seq = torch.cat([clean, x], dim=1)
                t = torch.cat([torch.full((1, start), float(d.context_timestep)), torch.full((1, f), s)], dim=1)
                kwargs = {"jump": torch.where(t >= 0, t, torch.zeros_like(t))} if renoise and d.jumps else {}
                v = den(seq, t, cond, rope=rope, attention_scale=scale, bias=config.bias, **kwargs)[:, start:]
                if not renoise:
                    x = x + (s_next - s) * v
                    continue
                x0 = x - s * v
                last = i + 1 == len(sig) - 1
                x = x0 if last else (1 - s_next) * x0 + s_next * iid_noise(x.shape, generator=gen)
            clean = torch.cat([clean, x], dim=1)
    return clean
