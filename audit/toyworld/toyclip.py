"""Toy-CLIP: a small contrastive image-text model trained on the toy world.

It plays CLIP's part for `builtin:toy-shapes` (alignment of image and caption) and is the
feature extractor of the Frechet distance `fd_toyclip`. The image tower keeps the spatial
layout (no global pooling) so that "left of" and counts survive into the embedding.

Interface (torch modules, float32, CPU or any device):

* `ToyClip.encode_image(x)` with x a (B, 3, 64, 64) float tensor in [0, 1] -> (B, D) unit rows
* `ToyClip.image_features(x)` -> (B, F) pre-projection features (for `fd_toyclip`)
* `ToyClip.encode_text(ids)` with ids from the toy tokenizer (B, 32) -> (B, D) unit rows
* `load_toyclip()` -> (image_module, text_fn): see its docstring.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

WEIGHTS = Path(__file__).parent / "weights" / "toyclip"


def _torch() -> Any:
    import torch

    return torch


def build(config: dict[str, int]) -> Any:
    """A ToyClip module for `config` (keys: vocab, width, embed, features)."""
    import torch
    from torch import nn

    class ImageTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = config["width"]
            layers: list[nn.Module] = []
            chans = [3, w, 2 * w, 2 * w, 4 * w]
            for a, b in zip(chans, chans[1:], strict=False):  # 64 -> 32 -> 16 -> 8 -> 4
                layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.GroupNorm(8, b), nn.SiLU()]
            self.conv = nn.Sequential(*layers)
            self.fc = nn.Linear(4 * w * 16, config["features"])

        def forward(self, x: Any) -> Any:
            h = self.conv(x * 2.0 - 1.0)
            return torch.nn.functional.silu(self.fc(h.flatten(1)))

    class TextTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = config["width"] * 2
            self.tok = nn.Embedding(config["vocab"], d)
            self.pos = nn.Parameter(torch.zeros(config["length"], d))
            layer = nn.TransformerEncoderLayer(d, 4, 2 * d, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.out = nn.Linear(d, config["embed"])

        def forward(self, ids: Any) -> Any:
            pad = ids == config["pad"]
            pad[:, 0] = False
            h = self.enc(self.tok(ids) + self.pos[: ids.shape[1]], src_key_padding_mask=pad)
            keep = (~pad).unsqueeze(-1).float()
            return self.out((h * keep).sum(1) / keep.sum(1))

    class ToyClip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = dict(config)
            self.image = ImageTower()
            self.image_proj = nn.Linear(config["features"], config["embed"])
            self.text = TextTower()
            self.logit_scale = nn.Parameter(torch.tensor(2.66))

        def image_features(self, x: Any) -> Any:
            return self.image(x)

        def encode_image(self, x: Any) -> Any:
            return nn.functional.normalize(self.image_proj(self.image(x)), dim=-1)

        def encode_text(self, ids: Any) -> Any:
            return nn.functional.normalize(self.text(ids), dim=-1)

    return ToyClip()


DEFAULT_CONFIG = {"width": 32, "features": 256, "embed": 128, "length": 32}


def save(model: Any, directory: Path) -> None:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    # float16 on disk to keep the package small; `load` casts back to float32
    state = {k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps(model.config, indent=1))


def load(directory: Path = WEIGHTS) -> Any:
    """The trained ToyClip in eval mode, float32, on CPU (safetensors only)."""
    from safetensors.torch import load_file

    from audit.errors import UserError

    cfg_path = directory / "config.json"
    if not cfg_path.is_file():
        raise UserError(
            "toy-CLIP weights are missing",
            file=cfg_path,
            fix="run `python -m audit.toyworld.train` or reinstall t2i-audit",
        )
    model = build(json.loads(cfg_path.read_text()))
    state = load_file(str(directory / "model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


@functools.lru_cache(maxsize=4)
def _tokenizer(directory: Path) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(directory / "tokenizer"))


def tokenize(texts: Sequence[str], directory: Path = WEIGHTS) -> Any:
    """Token ids (B, 32) from the toy tokenizer saved beside the toy-CLIP weights."""
    tok = _tokenizer(directory)
    out = tok(list(texts), padding="max_length", max_length=32, truncation=True)
    return _torch().tensor(out["input_ids"])


def load_toyclip(directory: Path = WEIGHTS) -> tuple[Any, Callable[[Sequence[str]], Any]]:
    """(image_module, text_fn) for the CLIP scorer and for `fd_toyclip`.

    image_module: a torch `nn.Module`; `image_module(x)` with x (B, 3, 64, 64) in [0, 1]
    returns unit embeddings (B, 128); `image_module.features(x)` returns the 256-d
    pre-projection features used for `fd_toyclip`. Other image sizes are resized to 64 px
    (bilinear) inside the module. text_fn(list of str) -> unit embeddings (B, 128).
    Both run without gradients on the module's device.
    """
    import torch

    model = load(directory)

    class ImageEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.feature_dim = model.config["features"]
            self.embed_dim = model.config["embed"]

        def _fit(self, x: Any) -> Any:
            if x.shape[-1] != 64 or x.shape[-2] != 64:
                x = torch.nn.functional.interpolate(
                    x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False
                )
            return x

        @torch.no_grad()
        def forward(self, x: Any) -> Any:
            return self.model.encode_image(self._fit(x))

        @torch.no_grad()
        def features(self, x: Any) -> Any:
            return self.model.image_features(self._fit(x))

    encoder = ImageEncoder().eval()
    text_fn = _text_fn(model, directory)
    return encoder, text_fn


def feature_module(directory: Path = WEIGHTS) -> Any:
    """An `nn.Module` mapping (B, 3, 64, 64) in [0, 1] to the 256-d `fd_toyclip` features.

    Plugs into `audit.scorers.features.from_module(module, "toyclip", input_size=64)`
    (default mean 0, std 1, so the module sees x / 255).
    """
    import torch

    model = load(directory)

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        @torch.no_grad()
        def forward(self, x: Any) -> Any:
            return self.model.image_features(x)

    return Features().eval()


def _text_fn(model: Any, directory: Path) -> Callable[[Sequence[str]], Any]:
    torch = _torch()

    @torch.no_grad()
    def text_fn(texts: Sequence[str]) -> Any:
        ids = tokenize(texts, directory).to(next(model.parameters()).device)
        return model.encode_text(ids)

    return text_fn
