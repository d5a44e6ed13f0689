"""Image feature extractors for set-level scores (FID/KID, CLIP-space distances, diversity).

An extractor turns a list of PIL images into an [n, dim] float64 array. Its `name` and its
`resize` mode are the identity of the features it makes: reference statistics record both,
and a scorer refuses a reference whose identity differs (see reference.py).

Resize modes:

* ``clean`` (default) — clean-fid's choice: centre-crop to a square without resampling, then
  resize each channel as a float image with PIL bicubic to the network's input size; no
  rounding back to uint8 before the network.
* ``native`` — the network's own preprocessing: torch-fidelity's TF1-compatible bilinear
  resize from uint8 inside Inception (what torchmetrics' FID uses); open_clip's transform
  for CLIP; the `preprocess` callable given to `from_module`.

Extractor kinds are looked up by name in `EXTRACTORS` (`audit.registry`): ``inception``,
``clip`` (an open_clip architecture, or a transformers CLIP / SigLIP hub id or directory) and
``dinov2`` (`audit.scorers.dinov2`) are built in; more come from `register_extractor` or the
``t2i_audit.extractors`` entry-point group (a factory taking an `ExtractorSpec`; the reference
world registers its toy CLIP's image tower so).

For a transformers CLIP, ``native`` is the CMMD reference code's preprocessing
(google-research/google-research ``cmmd/io_util.py``): the centred square, PIL bicubic
(antialiased) from the 8-bit image to the tower's size, ``/ 255``, then CLIP's mean and std.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from audit.environment import pick_device
from audit.errors import UserError
from audit.registry import Registry
from audit.scorers.base import Requirement, package_requirement
from audit.scorers.clip_hf import HFClipSource, looks_like_hub_id, looks_like_path
from audit.scorers.identity import file_digest

if TYPE_CHECKING:
    import torch
    from PIL import Image

ResizeMode = Literal["clean", "native"]
RESIZE_MODES: tuple[str, ...] = ("clean", "native")

INCEPTION_NAME = "inception-v3-torchfidelity"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
INCEPTION_SIZE = 299
# CLIP's published normalisation (open_clip.constants.OPENAI_DATASET_MEAN / _STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

ENTRY_POINT_GROUP = "t2i_audit.extractors"


@runtime_checkable
class Extractor(Protocol):
    name: str
    dim: int
    resize: str

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray: ...


class ExtractorSpec(BaseModel):
    """How to build an extractor; stored in reference meta.json so it can be rebuilt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = "inception"
    resize: ResizeMode = "clean"
    weights: str | None = None  # local weights file; else cache / download
    model: str = "ViT-L-14"  # open_clip architecture (kind=clip)
    pretrained: str = "openai"  # open_clip pretrained tag (kind=clip)
    device: str | None = None
    batch_size: int = Field(default=32, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)  # for custom kinds


# ---------------------------------------------------------------- resizing


def center_square(image: Image.Image) -> Image.Image:
    """Crop the largest centred square (no resampling)."""
    w, h = image.size
    if w == h:
        return image
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return image.crop((left, top, left + s, top + s))


def clean_resize(image: Image.Image, size: int) -> np.ndarray:
    """[size, size, 3] float32 in 0..255: per-channel PIL bicubic on float data (clean-fid)."""
    from PIL import Image as PILImage

    rgb = np.asarray(center_square(image.convert("RGB")), dtype=np.float32)
    out = np.empty((size, size, 3), dtype=np.float32)
    for c in range(3):
        channel = PILImage.fromarray(rgb[:, :, c], mode="F")
        out[:, :, c] = np.asarray(
            channel.resize((size, size), resample=PILImage.Resampling.BICUBIC)
        )
    return np.clip(out, 0.0, 255.0)


def clean_batch(images: Sequence[Image.Image], size: int) -> torch.Tensor:
    """[n, 3, size, size] float32 tensor in 0..255, clean-resized."""
    import torch

    arr = np.stack([clean_resize(img, size) for img in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def uint8_batch(images: Sequence[Image.Image]) -> torch.Tensor:
    """[n, 3, H, W] uint8 tensor; all images must share one size."""
    import torch

    arr = np.stack([np.asarray(img.convert("RGB"), dtype=np.uint8) for img in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


class PilBicubic:
    """PIL image -> [3, size, size] float32 tensor: optionally the centred square (integer
    offsets, no resampling), then PIL bicubic (antialiased) from the 8-bit RGB image to
    size x size, ``/ 255``, then ``(x - mean) / std``.

    With ``crop=True`` this is the CMMD reference's ``_center_crop_and_resize`` and
    ``embedding._clip_preprocess`` (google-research/google-research ``cmmd/``); with
    ``crop=False`` dgm-eval's DINOv2 transform (``TF.Resize((224, 224), BICUBIC)``, which
    squashes, then ``ToTensor`` and ``Normalize``; layer6ai-labs/dgm-eval
    ``dgm_eval/models/dinov2.py``).
    """

    def __init__(
        self, size: int, mean: Sequence[float], std: Sequence[float], *, crop: bool
    ) -> None:
        self.size, self.crop = size, crop
        self.mean = np.asarray(mean, dtype=np.float32).reshape(1, 1, 3)
        self.std = np.asarray(std, dtype=np.float32).reshape(1, 1, 3)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import torch
        from PIL import Image as PILImage

        rgb = image.convert("RGB")
        if self.crop:
            rgb = center_square(rgb)
        if rgb.size != (self.size, self.size):
            rgb = rgb.resize((self.size, self.size), resample=PILImage.Resampling.BICUBIC)
        x = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
        x = (x - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


# ---------------------------------------------------------------- the common runner


@contextmanager
def full_float32() -> Iterator[None]:
    """Turn TF32 off while extracting: with it (cuDNN's default for convolutions) Inception
    features on an H100 differed from CPU ones by up to 7e-4 relative and FID by 0.13%;
    without it by 2e-6 and 3e-6. Reference statistics must not depend on the device."""
    import torch

    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class TorchExtractor:
    """Batches images through `to_input` then `forward`, without gradients, to float64."""

    def __init__(
        self,
        *,
        name: str,
        resize: str,
        to_input: Callable[[Sequence[Image.Image]], torch.Tensor],
        forward: Callable[[torch.Tensor], torch.Tensor],
        device: str,
        batch_size: int = 32,
        dim: int | None = None,
        probe_size: int = 64,
    ) -> None:
        self.name = name
        self.resize = resize
        self.device = device
        self.batch_size = batch_size
        self._to_input = to_input
        self._forward = forward
        if dim is None:
            from PIL import Image as PILImage

            probe = PILImage.new("RGB", (probe_size, probe_size), (127, 127, 127))
            dim = int(self([probe]).shape[1])
        self.dim = dim

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode(), full_float32():
            for start in range(0, len(images), self.batch_size):
                batch = self._to_input(images[start : start + self.batch_size]).to(self.device)
                feats = self._forward(batch)
                out.append(feats.detach().to("cpu", torch.float64).numpy())
        if not out:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float64)
        return np.concatenate(out, axis=0)


def from_module(
    module: torch.nn.Module,
    name: str,
    *,
    input_size: int,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    resize: ResizeMode = "clean",
    preprocess: Callable[[Image.Image], torch.Tensor] | None = None,
    device: str | None = None,
    batch_size: int = 32,
) -> TorchExtractor:
    """Adapt any image-embedding module: it receives ``(x / 255 - mean) / std`` as a float
    tensor [n, 3, input_size, input_size] and returns [n, dim]. With ``resize="native"``
    each image goes through `preprocess` (PIL -> [3, H, W] tensor, fully normalised) instead.
    """
    import torch

    dev = pick_device(device)
    module = module.to(dev).eval()
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    to_input: Callable[[Sequence[Image.Image]], torch.Tensor]
    if resize == "clean":

        def to_input(images: Sequence[Image.Image]) -> torch.Tensor:
            return (clean_batch(images, input_size) / 255.0 - mean_t) / std_t

    elif resize == "native":
        if preprocess is None:
            raise ValueError("resize='native' needs the module's `preprocess` callable")
        prep = preprocess

        def to_input(images: Sequence[Image.Image]) -> torch.Tensor:
            return torch.stack([prep(img.convert("RGB")) for img in images])

    else:
        raise ValueError(f"unknown resize mode {resize!r}; use one of {RESIZE_MODES}")

    def forward(x: torch.Tensor) -> torch.Tensor:
        return module(x.float())

    return TorchExtractor(
        name=name,
        resize=resize,
        to_input=to_input,
        forward=forward,
        device=dev,
        batch_size=batch_size,
        probe_size=input_size,
    )


# ---------------------------------------------------------------- Inception (torch-fidelity)


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch (so `check()` stays cheap)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "torch" / "hub"


def cached_inception_weights() -> Path | None:
    path = torch_hub_dir() / "checkpoints" / INCEPTION_URL.rsplit("/", 1)[1]
    return path if path.is_file() else None


def inception_fix() -> str:
    return (
        'download once where the internet is reachable: python -c "import torch; '
        f"torch.hub.load_state_dict_from_url('{INCEPTION_URL}')\" (it lands in "
        f"{torch_hub_dir() / 'checkpoints'}), or set the option `weights: PATH` "
        "(CLI: --weights PATH) to a copy of that .pth file"
    )


def _check_tensor_file(path: Path) -> None:
    """Refuse files that need arbitrary unpickling (torch-fidelity loads with
    weights_only=False, so the file is vetted with the safe loader first)."""
    import torch

    if not path.is_file():
        raise UserError("weights file not found", file=path, field="weights", fix=inception_fix())
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(
            f"not a plain tensor checkpoint ({type(exc).__name__}); refusing to unpickle it",
            file=path,
            field="weights",
            fix="use torch-fidelity's weights-inception-2015-12-05-6726825d.pth",
        ) from None


def load_inception(weights: str | Path | None = None) -> torch.nn.Module:
    """torch-fidelity's Inception-v3 (the FID network) from `weights`, the torch hub cache,
    or a download (when online)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = Path(weights).expanduser() if weights else cached_inception_weights()
    if path is not None:
        _check_tensor_file(path)
    try:
        return FeatureExtractorInceptionV3(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(path) if path else None,
        )
    except OSError as exc:  # URLError is an OSError: offline and not cached
        raise UserError(
            f"Inception-v3 weights are not available here ({exc})",
            field="weights",
            fix=inception_fix(),
        ) from None


def inception_float_forward(net: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torch-fidelity's Inception forward from a float [n, 3, 299, 299] batch in 0..255.

    Its own forward accepts only uint8 (then resizes); the clean mode feeds float images
    that are already 299 px, so this repeats the layer sequence after that resize. Returns
    (pool 2048, logits_unbiased 1008). A test checks it against the original forward.
    """
    x = (x.to(net.feature_extractor_internal_dtype) - 128) / 128
    for layer in (
        net.Conv2d_1a_3x3,
        net.Conv2d_2a_3x3,
        net.Conv2d_2b_3x3,
        net.MaxPool_1,
        net.Conv2d_3b_1x1,
        net.Conv2d_4a_3x3,
        net.MaxPool_2,
        net.Mixed_5b,
        net.Mixed_5c,
        net.Mixed_5d,
        net.Mixed_6a,
        net.Mixed_6b,
        net.Mixed_6c,
        net.Mixed_6d,
        net.Mixed_6e,
        net.Mixed_7a,
        net.Mixed_7b,
        net.Mixed_7c,
        net.AvgPool,
    ):
        x = layer(x)
    pool = x.flatten(1)
    logits = pool.mm(net.fc.weight.T)
    return pool.float(), logits.float()


class InceptionExtractor(TorchExtractor):
    """2048-d pool features of torch-fidelity's Inception-v3; `logits` for the IS."""

    def __init__(
        self,
        net: torch.nn.Module,
        *,
        resize: ResizeMode = "clean",
        device: str | None = None,
        batch_size: int = 32,
    ) -> None:
        dev = pick_device(device)
        self.net = net.to(dev).eval()
        self._logits: list[np.ndarray] = []
        if resize == "clean":

            def to_input(images: Sequence[Image.Image]) -> torch.Tensor:
                return clean_batch(images, INCEPTION_SIZE)

        elif resize == "native":
            to_input = _same_size_uint8
        else:
            raise ValueError(f"unknown resize mode {resize!r}; use one of {RESIZE_MODES}")
        super().__init__(
            name=INCEPTION_NAME,
            resize=resize,
            to_input=to_input,
            forward=self._pool,
            device=dev,
            batch_size=batch_size,
            dim=2048,
        )

    def _both(self, x: Any) -> tuple[Any, Any]:
        if x.dtype.is_floating_point:
            return inception_float_forward(self.net, x)
        pool, logits = self.net(x)
        return pool, logits

    def _pool(self, x: Any) -> Any:
        pool, logits = self._both(x)
        self._logits.append(logits.detach().to("cpu").double().numpy())
        return pool

    def features_and_logits(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        self._logits = []
        feats = self(images)
        logits = np.concatenate(self._logits) if self._logits else np.zeros((0, 1008))
        self._logits = []
        return feats, logits


def _same_size_uint8(images: Sequence[Image.Image]) -> torch.Tensor:
    sizes = {img.size for img in images}
    if len(sizes) > 1:
        raise UserError(
            f"resize mode 'native' needs one image size per batch, got {sorted(sizes)}",
            field="resize",
            fix="use resize: clean, or give images of one size",
        )
    return uint8_batch(images)


def inception_extractor(spec: ExtractorSpec) -> InceptionExtractor:
    return InceptionExtractor(
        load_inception(spec.weights),
        resize=spec.resize,
        device=spec.device,
        batch_size=spec.batch_size,
    )


# ---------------------------------------------------------------- CLIP (open_clip)


def clip_identity(model: str, pretrained: str) -> str:
    return f"clip:{model}/{pretrained}"


def clip_weights_fix(model: str, pretrained: str) -> str:
    return (
        'download once where the internet is reachable: python -c "import open_clip; '
        f"open_clip.create_model('{model}', pretrained='{pretrained}')\" (it lands in the "
        "Hugging Face cache), or set the option `weights: PATH` to a local open_clip "
        "checkpoint (.safetensors / .bin) of that model"
    )


def cached_clip_weights(model: str, pretrained: str) -> Path | None:
    """The cached checkpoint open_clip would load for (model, tag) offline, if any."""
    from audit.scorers.clip_catalog import pretrained_cfg

    cfg = pretrained_cfg(model, pretrained)
    if not cfg:
        return None
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        # open_clip's convention: "org/repo/filename", or "org/repo/" for its default file.
        repo, filename = os.path.split(hub)
        names = [filename] if filename else []
        names += ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str):
                return Path(hit)
    url = cfg.get("url", "")
    if url:
        path = Path("~/.cache/clip").expanduser() / os.path.basename(url)
        if path.is_file():
            return path
    return None


def load_open_clip(
    model: str, pretrained: str, weights: str | Path | None, device: str
) -> tuple[Any, Callable[[Image.Image], torch.Tensor], Callable[..., Any]]:
    """(model, preprocess, tokenizer) from a local checkpoint or the pretrained tag."""
    import open_clip

    if model not in open_clip.list_models():
        raise UserError(
            f"unknown open_clip model '{model}'",
            field="model",
            fix="use a name from open_clip.list_models(), e.g. ViT-L-14 or ViT-B-32",
        )
    try:
        if weights:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise UserError(
                    "CLIP weights file not found",
                    file=path,
                    field="weights",
                    fix=clip_weights_fix(model, pretrained),
                )
            cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
            net, _, preprocess = open_clip.create_model_and_transforms(
                model,
                pretrained=str(path),
                device=device,
                force_quick_gelu=bool(cfg.get("quick_gelu", False)),
            )
        else:
            net, _, preprocess = open_clip.create_model_and_transforms(
                model, pretrained=pretrained, device=device
            )
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"could not load CLIP {model}/{pretrained}: {type(exc).__name__}: {exc}",
            field="weights",
            fix=clip_weights_fix(model, pretrained),
        ) from None
    net.eval()
    return net, preprocess, open_clip.get_tokenizer(model)


def clip_image_extractor(
    net: Any,
    name: str,
    *,
    resize: ResizeMode = "clean",
    preprocess: Callable[[Image.Image], torch.Tensor] | None = None,
    device: str | None = None,
    batch_size: int = 32,
    normalize: bool = False,
) -> TorchExtractor:
    """The image tower of a CLIP-like model (anything with `encode_image`).

    Features are the raw image embeddings (as torch-fidelity's CLIP extractor gives) unless
    `normalize` asks for unit vectors (cosine uses).
    """
    import torch

    dev = pick_device(device)
    visual = getattr(net, "visual", None)
    size = getattr(visual, "image_size", 224)
    size = int(size[0] if isinstance(size, tuple | list) else size)
    cfg = getattr(visual, "preprocess_cfg", None) or {}
    mean = tuple(cfg.get("mean", CLIP_MEAN))
    std = tuple(cfg.get("std", CLIP_STD))

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.net.encode_image(x)
            return z / z.norm(dim=-1, keepdim=True) if normalize else z

    return from_module(
        ImageTower(),
        name,
        input_size=size,
        mean=mean,
        std=std,
        resize=resize,
        preprocess=preprocess,
        device=dev,
        batch_size=batch_size,
    )


def hf_clip_source(spec: ExtractorSpec) -> HFClipSource | None:
    """The transformers CLIP / SigLIP model a `clip` spec names (hub id or directory), or
    None for an open_clip architecture. `options: {revision: REV}` pins a hub id."""
    if spec.kind != "clip" or not (looks_like_hub_id(spec.model) or looks_like_path(spec.model)):
        return None
    revision = spec.options.get("revision")
    return HFClipSource(spec.model, str(revision) if revision else None)


def hf_clip_identity(source: HFClipSource) -> str:
    """`clip:<hub id>[@revision]`, or `clip:transformers-dir/<folder name>` for a directory
    (its files' digest is in `extractor_loads`)."""
    if source.path is not None:
        return f"clip:transformers-dir/{source.path.name}"
    return f"clip:{source.value}" + (f"@{source.revision}" if source.revision else "")


def hf_clip_extractor(spec: ExtractorSpec, source: HFClipSource) -> TorchExtractor:
    """The projected image embedding of a transformers CLIP / SigLIP (raw, not unit: CMMD
    normalises, FD does not). ``native``: `PilBicubic` with the centred square at the
    tower's size and the processor's mean and std (the CMMD reference's preprocessing);
    ``clean``: clean-fid's float resize with the same normalisation."""
    from audit.scorers import clip_hf

    device = pick_device(spec.device)
    model, processor, _ = source.load(device)
    size, mean, std = clip_hf.clean_geometry(model, processor)
    return from_module(
        clip_hf.image_tower(model),
        hf_clip_identity(source),
        input_size=size,
        mean=mean,
        std=std,
        resize=spec.resize,
        preprocess=PilBicubic(size, mean, std, crop=True),
        device=device,
        batch_size=spec.batch_size,
    )


def clip_extractor(spec: ExtractorSpec) -> TorchExtractor:
    source = hf_clip_source(spec)
    if source is not None:
        return hf_clip_extractor(spec, source)
    device = pick_device(spec.device)
    net, preprocess, _ = load_open_clip(spec.model, spec.pretrained, spec.weights, device)
    return clip_image_extractor(
        net,
        clip_identity(spec.model, spec.pretrained),
        resize=spec.resize,
        preprocess=preprocess,
        device=device,
        batch_size=spec.batch_size,
    )


# ---------------------------------------------------------------- registry of kinds


@runtime_checkable
class ExtractorFactory(Protocol):
    """Builds an extractor from its spec (a function will do). A factory may also have a
    method `loads(spec) -> dict[str, str]` naming the weights it loads, without loading
    them: they are part of the identity of the scores made with it."""

    def __call__(self, spec: ExtractorSpec, /) -> Extractor: ...


EXTRACTORS: Registry[ExtractorFactory] = Registry(
    "feature extractor",
    group=ENTRY_POINT_GROUP,
    base=ExtractorFactory,
    instances=True,
    field="extractor",
)
EXTRACTORS.register("inception", "audit.scorers.features:inception_extractor")
EXTRACTORS.register("clip", "audit.scorers.features:clip_extractor")
EXTRACTORS.register("dinov2", "audit.scorers.dinov2:dinov2_extractor")


def register_extractor(kind: str, factory: str | ExtractorFactory) -> None:
    """Add an extractor kind: a factory (spec -> Extractor) or a lazy "module:attr"."""
    EXTRACTORS.register(kind, factory)


def extractor_kinds() -> list[str]:
    return EXTRACTORS.names()


def make_extractor(spec: ExtractorSpec | dict[str, Any]) -> Extractor:
    """Build the extractor a spec names; unknown kinds are a UserError listing the known."""
    if not isinstance(spec, ExtractorSpec):
        spec = ExtractorSpec.model_validate(spec)
    extractor = EXTRACTORS.get(spec.kind)(spec)
    if extractor.resize != spec.resize:
        raise ValueError(
            f"extractor '{spec.kind}' made resize mode {extractor.resize!r}, asked {spec.resize!r}"
        )
    return extractor


def extractor_loads(spec: ExtractorSpec) -> dict[str, str]:
    """What the extractor a spec names loads, without building it (a score identity part)."""
    if spec.kind == "inception":
        weights = Path(spec.weights).expanduser() if spec.weights else None
        # The default file's name carries its own hash prefix (torch-fidelity's release).
        return {
            "extractor": INCEPTION_NAME,
            "extractor_weights": file_digest(weights)
            if weights is not None and weights.is_file()
            else INCEPTION_URL.rsplit("/", 1)[1],
        }
    if spec.kind == "clip":
        source = hf_clip_source(spec)
        if source is not None:
            return {"extractor": hf_clip_identity(source), **source.loads()}
        return {"extractor": clip_identity(spec.model, spec.pretrained), **_weights_digest(spec)}
    factory = EXTRACTORS.get(spec.kind)
    named = getattr(factory, "loads", None)
    extra = named(spec) if callable(named) else _weights_digest(spec)
    return {"extractor": spec.kind, **extra}


def _weights_digest(spec: ExtractorSpec) -> dict[str, str]:
    weights = Path(spec.weights).expanduser() if spec.weights else None
    if weights is None or not weights.is_file():
        return {}
    return {"extractor_weights": file_digest(weights)}


def expected_name(spec: ExtractorSpec) -> str | None:
    """The identity a built-in kind will have, without building it (None for custom kinds)."""
    if spec.kind == "inception":
        return INCEPTION_NAME
    if spec.kind == "clip":
        source = hf_clip_source(spec)
        return hf_clip_identity(source) if source else clip_identity(spec.model, spec.pretrained)
    return None


# ---------------------------------------------------------------- requirements (cheap)


def inception_weights_requirement(weights: Path | None) -> Requirement:
    if weights is not None:
        ok = Path(weights).expanduser().is_file()
        return Requirement(f"Inception-v3 weights file {weights}", ok=ok, fix=inception_fix())
    cached = cached_inception_weights()
    return Requirement(
        "Inception-v3 FID weights (torch-fidelity)"
        + (f" cached at {cached}" if cached else ": not cached, and no `weights` path given"),
        ok=cached is not None,
        fix=inception_fix(),
    )


def clip_weights_requirement(model: str, pretrained: str, weights: Path | None) -> Requirement:
    """Shared with the CLIP and diversity scorers: a local file, or open_clip's cache."""
    fix = clip_weights_fix(model, pretrained)
    if weights is not None:
        ok = Path(weights).expanduser().is_file()
        return Requirement(f"CLIP weights file {weights}", ok=ok, fix=fix)
    try:
        cached = cached_clip_weights(model, pretrained)
    except Exception:  # unknown tag, hub package missing: not available
        cached = None
    return Requirement(
        f"CLIP weights {model}/{pretrained}"
        + (f" cached at {cached}" if cached else ": not cached, and no `weights` path given"),
        ok=cached is not None,
        fix=fix,
    )


def extractor_requirements(spec: ExtractorSpec) -> list[Requirement]:
    """What the extractor a spec names needs here (packages, weights), cheaply and without
    importing torch: for `doctor` and the set scorers' `check()`. A registered kind may add
    its own through a `requirements(spec)` method on its factory."""
    if spec.kind == "inception":
        weights = Path(spec.weights) if spec.weights else None
        return [
            package_requirement("torch_fidelity", "torch-fidelity"),
            inception_weights_requirement(weights),
        ]
    if spec.kind == "clip":
        source = hf_clip_source(spec)
        if source is not None:
            return source.requirements()
        reqs = [package_requirement("open_clip", "open-clip-torch")]
        if reqs[0].ok:
            weights = Path(spec.weights) if spec.weights else None
            reqs.append(clip_weights_requirement(spec.model, spec.pretrained, weights))
        return reqs
    known = extractor_kinds()
    if spec.kind not in known:
        return [
            Requirement(
                f"feature extractor '{spec.kind}'",
                ok=False,
                fix=f"use one of: {', '.join(known)} (or register the extractor kind)",
            )
        ]
    named = getattr(EXTRACTORS.get(spec.kind), "requirements", None)
    found = named(spec) if callable(named) else []
    return [Requirement(f"feature extractor '{spec.kind}'", ok=True), *found]
