"""Tiny random stand-ins of the metrics' models (DINOv2, CLIP vision, LPIPS-Alex), written as local folders."""

from pathlib import Path


def write_feature_dirs(root: Path) -> tuple[Path, Path]:
    """(dino folder, clip folder) in save_pretrained layout, random weights (never downloaded)."""
    import torch
    from transformers import (
        BitImageProcessor,
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        Dinov2Config,
        Dinov2Model,
    )

    torch.manual_seed(0)
    dino = Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                    image_size=32, patch_size=8))
    dino.save_pretrained(root / "dino")
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(root / "dino")
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                          intermediate_size=64, image_size=32, patch_size=8,
                                                          projection_dim=16))
    clip.save_pretrained(root / "clip")
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor.save_pretrained(root / "clip")
    return root / "dino", root / "clip"


def write_lpips_folder(folder: Path) -> Path:
    """Random weights in the two released layouts: torchvision's AlexNet and LPIPS's non-negative heads."""
    import torch

    from longroll.eval.lpips import CONVS

    g = torch.Generator().manual_seed(0)
    backbone, heads = {}, {}
    for n, (index, cin, cout, k, _, _) in enumerate(CONVS):
        backbone[f"features.{index}.weight"] = torch.randn(cout, cin, k, k, generator=g) * (2 / (cin * k * k)) ** 0.5
        backbone[f"features.{index}.bias"] = torch.zeros(cout)
        heads[f"lin{n}.model.1.weight"] = torch.rand(1, cout, 1, 1, generator=g) / cout
    backbone["classifier.1.weight"] = torch.zeros(4, 4)  # the rest of AlexNet is read past
    folder.mkdir(exist_ok=True)
    torch.save(backbone, folder / "alexnet-owt-7be5be79.pth")
    torch.save(heads, folder / "alex.pth")
    return folder


def write_aesthetic_folder(root: Path) -> Path:
    """A CLIP stand-in with a linear aesthetic head (LAION's layout: weight (1, D), bias (1)) beside its files."""
    import torch

    clip = write_feature_dirs(root)[1]
    g = torch.Generator().manual_seed(1)
    torch.save({"weight": torch.randn(1, 16, generator=g), "bias": torch.tensor([5.0])}, clip / "aesthetic_head.pth")
    return clip
