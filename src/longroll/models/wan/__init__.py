"""Wan2.1 parts shared by the causal and the bidirectional paths: UMT5 text encoder, streaming VAE
decoder, and diffusers' bidirectional transformer as a per-frame-timestep denoiser."""
