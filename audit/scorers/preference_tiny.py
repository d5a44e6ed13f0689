"""Tiny random models of the preference scorers' architectures, built in code (no download).

For the offline tests and `bench score`: each is saved as its real counterpart is published,
so it loads through the scorer's own path (a directory or file where a hub id would be).

* `tiny_pickscore`: a transformers CLIPModel directory (PickScore_v1's class) and a separate
  processor directory (PickScore takes its processor from another repo);
* `tiny_open_clip_dir`: an open_clip CLIP as open_clip's ``local-dir:`` reads it
  (open_clip_config.json and open_clip_model.safetensors): the aesthetic scorer's CLIP and
  the HPS architecture;
* `tiny_hps_checkpoint`: that architecture's weights as HPS ships them, a torch file holding
  ``{"state_dict": ...}``;
* `tiny_aesthetic_head`: the aesthetic MLP at its real size (768 inputs), keys ``layers.N.*``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# open_clip CLIP: 32 px images, two 32-wide layers per tower, 768-d embeddings (ViT-L/14's,
# so the aesthetic MLP keeps its real shape).
TINY_OPEN_CLIP: dict[str, Any] = {
    "embed_dim": 768,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def _open_clip_model(seed: int) -> Any:
    import torch
    from open_clip.model import CLIP

    torch.manual_seed(seed)
    return CLIP(**TINY_OPEN_CLIP).eval()  # type: ignore[arg-type]


def tiny_open_clip_dir(out: Path, seed: int = 0) -> Path:
    """An open_clip ``local-dir:`` model: pass ``f"local-dir:{out}"``."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": TINY_OPEN_CLIP,
        "preprocess_cfg": {
            "mean": list(CLIP_MEAN),
            "std": list(CLIP_STD),
            "interpolation": "bicubic",
            "resize_mode": "shortest",
        },
    }
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=1))
    state = {k: v.contiguous() for k, v in _open_clip_model(seed).state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    return out


def tiny_hps_checkpoint(path: Path, seed: int = 1) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": _open_clip_model(seed).state_dict()}, path)
    return path


def tiny_aesthetic_head(path: Path, seed: int = 2) -> Path:
    """The MLP at its real shapes with random weights, scaled so that scores spread over
    about N(0, 1) (PyTorch's default initialisation gives nearly one value for all images)."""
    import torch
    from torch import nn

    from audit.scorers.preference import aesthetic_layers

    torch.manual_seed(seed)
    layers = aesthetic_layers(768)
    for i, layer in enumerate(m for m in layers if isinstance(m, nn.Linear)):
        fan_in = layer.in_features if i else 1  # the input is a unit vector
        nn.init.normal_(layer.weight, std=fan_in**-0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"layers.{k}": v for k, v in layers.state_dict().items()}, path)
    return path


def tiny_pickscore(model_dir: Path, processor_dir: Path, seed: int = 3) -> tuple[Path, Path]:
    """A CLIPModel (2-layer, 32-wide towers, 32 px) and a CLIP processor with CLIP's real BPE
    vocabulary, each saved with save_pretrained."""
    import tempfile

    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from audit.generate.tokenizer import write_clip_tokenizer_files

    tower = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)
    ids = dict(bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
    config = CLIPConfig(
        text_config=dict(**tower, **ids, vocab_size=49408, max_position_embeddings=77),
        vision_config=dict(**tower, image_size=32, patch_size=8),
        projection_dim=24,
    )
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        write_clip_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer(
            str(Path(tmp) / "vocab.json"),
            str(Path(tmp) / "merges.txt"),
            pad_token="<|endoftext|>",
            model_max_length=77,
        )
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(processor_dir)
    return model_dir, processor_dir


def tiny_options(folder: Path) -> dict[str, dict[str, Any]]:
    """All three tiny models under `folder`, as `scorers:` options for each scorer."""
    model, processor = tiny_pickscore(folder / "pickscore", folder / "processor")
    clip = tiny_open_clip_dir(folder / "open_clip")
    return {
        "pickscore": {"model": str(model), "processor": str(processor)},
        "hpsv2": {
            "arch": f"local-dir:{clip}",
            "checkpoint": str(tiny_hps_checkpoint(folder / "hps.pt")),
        },
        "aesthetic": {
            "clip": f"local-dir:{clip}",
            "head": str(tiny_aesthetic_head(folder / "aesthetic.pth")),
        },
    }
