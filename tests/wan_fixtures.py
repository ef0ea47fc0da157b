"""Tiny random Wan2.1 parts (transformer, UMT5, tokenizer, VAE) for the causal-wan tests; never real weights."""

from pathlib import Path

import torch

TEXT_DIM = 16
WORDS = "a cat dog runs on the beach in snow red blue slowly".split()


def tiny_transformer(seed: int = 0, **overrides):
    """diffusers WanTransformer3DModel: 2 layers, 2 heads of 12, every weight random."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    kw = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
              text_dim=TEXT_DIM, freq_dim=32, ffn_dim=32, num_layers=2, rope_max_seq_len=64)
    kw.update(overrides)
    model = WanTransformer3DModel(**kw).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def tiny_vae():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]).eval()


def tiny_text_encoder():
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config = UMT5Config(vocab_size=len(WORDS) + 3, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1)
    return UMT5EncoderModel(config).eval()


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def write_base_dir(root: Path, transformer=None) -> Path:
    """A Wan2.1 directory in diffusers layout: transformer/, text_encoder/, tokenizer/, vae/."""
    (transformer or tiny_transformer()).save_pretrained(root / "transformer")
    tiny_text_encoder().save_pretrained(root / "text_encoder")
    tiny_tokenizer().save_pretrained(root / "tokenizer")
    tiny_vae().save_pretrained(root / "vae")
    return root
