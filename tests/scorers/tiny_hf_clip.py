"""A tiny random transformers CLIP model directory, built in code (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PROMPTS = [
    "a red cube",
    "two blue spheres on a table",
    "a green dog on a sofa",
    "a sign that says 'open'",
    "three yellow triangles",
    "a cat",
    "a photo of a city at night with many lights and a river",
    "one small black circle",
]


TOWER = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)


def _tokenizer(folder: Path, max_length: int) -> object:
    """CLIP's real BPE tokenizer, built from the vocabulary open-clip-torch ships."""
    from transformers import CLIPTokenizer

    from audit.generate.tokenizer import write_clip_tokenizer_files

    write_clip_tokenizer_files(folder)
    tokenizer = CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        pad_token="<|endoftext|>",
        model_max_length=max_length,
    )
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    return tokenizer


def build_tiny_clip(out: Path, seed: int = 0) -> Path:
    """CLIPModel (2-layer, 32-wide towers, 32 px images) with CLIP's real tokenizer and an
    image processor, saved with save_pretrained as a hub model would be."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tower = TOWER
    config = CLIPConfig(
        text_config=dict(
            **tower,
            vocab_size=49408,
            max_position_embeddings=77,
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
        ),
        vision_config=dict(**tower, image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    tokenizer = _tokenizer(out.parent / f"_tok-{out.name}", 77)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    model.save_pretrained(out)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)
    return out


def build_tiny_siglip(out: Path, seed: int = 0) -> Path:
    """SiglipModel of the same size; its processor pads prompts to 16 tokens."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    config = SiglipConfig(
        text_config=dict(**TOWER, vocab_size=49408, max_position_embeddings=16),
        vision_config=dict(**TOWER, image_size=32, patch_size=8),
    )
    torch.manual_seed(seed)
    model = SiglipModel(config).eval()
    tokenizer = _tokenizer(out.parent / f"_tok-{out.name}", 16)
    model.save_pretrained(out)
    processor = SiglipImageProcessor(size={"height": 32, "width": 32})
    SiglipProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(out)
    return out


def images(n: int, seed: int = 1) -> list[Image.Image]:
    """Noise images of several sizes (the processor resizes and crops them)."""
    rng = np.random.default_rng(seed)
    sizes = [(48, 40), (32, 32), (64, 80), (50, 50)]
    return [
        Image.fromarray(rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8)) for i in range(n)
    ]
