"""Train the built-in toy models: `python -m audit.toyworld.train [--config default]`.

Stages, all seeded from `--seed`:

1. a tiny AutoencoderKL (64x64x3 <-> 16x16x4),
2. a UNet2DConditionModel on its latents with a tiny CLIPTextModel trained jointly
   (epsilon objective, 10% empty captions for classifier-free guidance, EMA weights),
   saving `toy-shapes-weak` at `weak_step` and `toy-shapes` at the end (and every
   `save_every` steps, so an interrupted run leaves usable weights),
3. toy-CLIP, the contrastive image-text model used for alignment and `fd_toyclip`.

Weights are written in diffusers layout under `--out` (default: the package's
`toyworld/weights/`) as float16 safetensors.

Budget: `--config default --threads 2 --stages vae,unet` took 81.9 minutes on 2 CPU cores
(the shipped `toy-shapes`; its training.json records the command, machine and stage times).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audit.toyworld import models, toyclip, vocab, world

WEIGHTS = Path(__file__).parent / "weights"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Data:
    """Rendered images and tokenised captions of one seeded dataset, on `device`."""

    def __init__(
        self, cfg: models.Config, seed: int, tokenizer: Any, device: str, workers: int = 1
    ) -> None:
        import torch

        self.scenes = world.dataset(seed, cfg.dataset, glyph_ok=vocab.char_split)
        # rendering is pure, so parallel pixels equal serial ones; small sets stay in-process
        if workers > 1 and len(self.scenes) >= 2000:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers) as pool:
                imgs = np.stack(list(pool.map(world.render, self.scenes, chunksize=500)))
        else:
            imgs = np.stack([world.render(s) for s in self.scenes])
        self.images = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous().to(device)
        n_var = max(len(s.captions) for s in self.scenes)
        self.n_captions = torch.tensor([len(s.captions) for s in self.scenes], device=device)
        texts = [s.captions[i % len(s.captions)] for s in self.scenes for i in range(n_var)]
        ids = tokenize(tokenizer, texts)
        self.ids = ids.view(len(self.scenes), n_var, -1).to(device)
        self.empty = tokenize(tokenizer, [""]).to(device)[0]
        self.device = device
        # per-scene sampling weights giving each kind its share of `mixture` (kinds absent
        # from a small dataset drop out and the others share their weight)
        self.weights = None
        if cfg.mixture is not None:
            from collections import Counter

            kinds = [s.kind for s in self.scenes]
            share = dict(zip(("count", "pair", "glyph"), cfg.mixture, strict=True))
            n_kind = Counter(kinds)  # once: list.count per scene was quadratic in the dataset
            w = [share[k] / n_kind[k] for k in kinds]
            self.weights = torch.tensor(w, dtype=torch.float64)

    def batch(self, gen: Any, size: int) -> tuple[Any, Any, Any]:
        """(indices, float images in [-1, 1], caption ids) for `size` random samples."""
        import torch

        if self.weights is None:
            idx = torch.randint(0, len(self.scenes), (size,), generator=gen)
        else:
            idx = torch.multinomial(self.weights, size, replacement=True, generator=gen)
        idx = idx.to(self.device)
        var = (torch.rand(size, generator=gen).to(self.device) * self.n_captions[idx]).long()
        x = self.images[idx].float() / 127.5 - 1.0
        return idx, x, self.ids[idx, var]


def tokenize(tokenizer: Any, texts: list[str]) -> Any:
    import torch

    out = tokenizer(texts, padding="max_length", max_length=vocab.MAX_LENGTH, truncation=True)
    return torch.tensor(out["input_ids"])


def lr_at(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def train_vae(cfg: models.Config, data: Data, gen: Any, device: str) -> Any:
    import torch

    vae = models.make_vae(cfg).to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, weight_decay=0.0)
    t0 = time.time()
    for step in range(cfg.vae_steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.vae_steps, cfg.lr)
        _, x, _ = data.batch(gen, cfg.vae_batch or cfg.batch)
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample(generator=gen_for(gen, device))).sample
        loss = (rec - x).abs().mean() + (rec - x).pow(2).mean() + 1e-6 * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == cfg.vae_steps - 1:
            log(f"vae step {step} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
    vae.eval()
    log(f"vae reconstructions read right: {reconstruction_check(vae, device)}")
    return vae


def reconstruction_check(vae: Any, device: str, n: int = 200) -> dict[str, float]:
    """What the pixel reader gets right on VAE round trips of `n` held-out scenes: the ceiling
    of what any UNet on these latents can score."""
    import torch

    from audit.toyworld import reader

    scenes = [s for s in world.dataset(4242, n) if s.kind != "glyph"]
    x = torch.from_numpy(np.stack([world.render(s) for s in scenes])).permute(0, 3, 1, 2)
    with torch.no_grad():
        z = vae.encode(x.float().to(device) / 127.5 - 1.0).latent_dist.mean
        rec = vae.decode(z).sample.clamp(-1, 1)
    imgs = ((rec + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    found = [reader.read(im) for im in imgs]
    pairs = list(zip(found, scenes, strict=True))
    count = np.mean([reader.counts(f) == s.counts() for f, s in pairs])
    color = np.mean(
        [sorted(o.color for o in f) == sorted(o.color for o in s.shapes) for f, s in pairs]
    )
    return {"count": round(float(count), 3), "color": round(float(color), 3)}


def gen_for(gen: Any, device: str) -> Any:
    """A generator on `device` seeded from the CPU generator (sampling needs one per device)."""
    import torch

    if device == "cpu":
        return gen
    g = torch.Generator(device=device)
    g.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen).item()))
    return g


def encode_all(vae: Any, data: Data, batch: int = 256) -> Any:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(data.images), batch):
            x = data.images[i : i + batch].float() / 127.5 - 1.0
            out.append(vae.encode(x).latent_dist.mean)
    return torch.cat(out)


class Ema:
    def __init__(self, modules: list[Any], decay: float = 0.999) -> None:
        import copy

        self.decay = decay
        self.copies = [copy.deepcopy(m).eval().requires_grad_(False) for m in modules]
        self.modules = modules

    def update(self, step: int) -> None:
        import torch

        d = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for c, m in zip(self.copies, self.modules, strict=True):
                mine = list(c.parameters())
                torch._foreach_mul_(mine, d)
                torch._foreach_add_(mine, [p.detach() for p in m.parameters()], alpha=1 - d)


def halve(path: Path) -> None:
    """Store float16 weights; the config still says float32, so loading gives float32."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    save_file({k: v.half() for k, v in state.items()}, str(path), metadata={"format": "pt"})


def save_pipeline(directory: Path, vae: Any, text_encoder: Any, unet: Any, tok_dir: Path) -> None:
    """A diffusers StableDiffusionPipeline directory, safetensors, no safety checker."""
    import copy

    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe = StableDiffusionPipeline(
        vae=copy.deepcopy(vae).to("cpu", torch.float16),
        # saved as float32 then halved on disk (see `halve`): transformers loads the dtype in
        # config.json, diffusers loads float32, and the pipeline needs one dtype
        text_encoder=copy.deepcopy(text_encoder).to("cpu", torch.float32),
        tokenizer=CLIPTokenizer.from_pretrained(str(tok_dir)),
        unet=copy.deepcopy(unet).to("cpu", torch.float16),
        scheduler=models.make_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(tmp), safe_serialization=True)
    halve(tmp / "text_encoder" / "model.safetensors")
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)  # replace whole, so a crash never leaves half a pipeline


def loss_weights(alpha_bar: Any, gamma: float | None) -> Any:
    """Per-sample weights of the epsilon loss. Min-SNR-gamma (Hang et al., 2023) weighs a
    timestep by min(SNR, gamma) / SNR, so nearly clean timesteps (huge SNR, easy denoising)
    stop dominating the gradient; `gamma` None weighs all alike."""
    import torch

    if gamma is None:
        return torch.ones_like(alpha_bar)
    snr = alpha_bar / (1 - alpha_bar)
    return snr.clamp(max=gamma) / snr


def train_diffusion(
    cfg: models.Config,
    data: Data,
    vae: Any,
    out: Path,
    tok_dir: Path,
    gen: Any,
    device: str,
    minutes: float | None = None,
    stop_step: int | None = None,
    resume: tuple[Any, Any, int] | None = None,
) -> None:
    """Train until `cfg.unet_steps`, `stop_step`, or `minutes` of wall clock, whichever comes
    first. The step reached goes into training.json; the learning-rate schedule always spans
    `unet_steps`, so `--stop-step N` replays a run that a time limit stopped at step N.
    `resume` = (unet, text_encoder, step) continues a saved pipeline's weights from `step`
    (fresh optimiser state; the data order then differs from one uninterrupted run)."""
    import torch

    latents = encode_all(vae, data)
    if resume is None:
        vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    scale = float(vae.config.scaling_factor)
    latents = latents * scale
    log(f"latents {tuple(latents.shape)} scaling_factor {scale:.4f}")

    if resume is None:
        text_encoder = models.make_text_encoder(cfg, len(vocab.vocab())).to(device)
        unet = models.make_unet(cfg).to(device)
        first = 0
    else:
        unet, text_encoder, first = resume
        unet, text_encoder = unet.to(device).train(), text_encoder.to(device).train()
    n_params = sum(p.numel() for p in unet.parameters())
    log(
        f"unet {n_params / 1e6:.2f}M params, text encoder "
        f"{sum(p.numel() for p in text_encoder.parameters()) / 1e6:.2f}M"
    )
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr * 0.5, weight_decay=0.01)
    sched = models.make_scheduler()
    alphas = sched.alphas_cumprod.to(device)
    ema = Ema([unet, text_encoder])
    t0 = time.time()
    for step in range(first, cfg.unet_steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.unet_steps, cfg.lr * 0.5)
        idx, _, ids = data.batch(gen, cfg.batch)
        drop = torch.rand(len(idx), generator=gen).to(device) < 0.1
        ids = torch.where(drop[:, None], data.empty[None], ids)
        z0 = latents[idx]
        noise = torch.randn(z0.shape, generator=gen).to(device)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(idx),), generator=gen)
        t = t.to(device)
        a = alphas[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        hidden = text_encoder(ids)[0]
        pred = unet(zt, t, hidden).sample
        per_sample = (pred - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (per_sample * loss_weights(a.view(-1), cfg.min_snr)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(step)
        done = step + 1
        last = (
            done == cfg.unet_steps
            or done == stop_step
            or (minutes is not None and time.time() - t0 > minutes * 60 and done > cfg.weak_step)
            or (minutes is not None and time.time() - t0 > minutes * 60 and first > 0)
        )
        if step % 100 == 0 or last:
            log(f"unet step {step} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
        if done == cfg.weak_step:
            save_pipeline(out / "toy-shapes-weak", vae, ema.copies[1], ema.copies[0], tok_dir)
            log(f"saved toy-shapes-weak at step {done}")
        if done % cfg.save_every == 0 or last:
            save_pipeline(out / "toy-shapes", vae, ema.copies[1], ema.copies[0], tok_dir)
            info = {"config": cfg.name, "step": done, "of": cfg.unet_steps, "device": device}
            (out / "toy-shapes" / "training.json").write_text(json.dumps(info, indent=1))
        if last:
            break


def hard_negative(scene: world.Scene, rng: np.random.Generator) -> str:
    """A caption that is wrong for `scene` in exactly one respect (count, colour, relation...)."""
    if scene.kind == "count":
        s = scene.shapes[0]
        n = len(scene.shapes)
        choice = int(rng.integers(3))
        if choice == 0:
            n = int(rng.choice([k for k in range(1, 5) if k != n]))
            return world.count_captions(n, s.color, s.shape)[1]
        if choice == 1:
            c = str(rng.choice([c for c in world.COLORS if c != s.color]))
            return world.count_captions(n, c, s.shape)[1]
        sh = str(rng.choice([x for x in world.SHAPES if x != s.shape]))
        return world.count_captions(n, s.color, sh)[1]
    if scene.kind == "pair":
        a, b = scene.shapes
        assert scene.relation is not None
        if rng.random() < 0.6:
            return world.pair_captions(a, world.INVERSE[scene.relation], b)[0]
        other = str(rng.choice([c for c in world.COLORS if c != a.color]))
        return world.pair_captions(world.Shape(a.shape, other, a.box), scene.relation, b)[0]
    text = list(scene.text)
    i = int(rng.integers(len(text)))
    text[i] = str(rng.choice([g for g in world.GLYPHS if g != text[i]]))
    return world.glyph_captions("".join(text))[0]


def train_toyclip(
    cfg: models.Config, data: Data, tokenizer: Any, out: Path, tok_dir: Path, seed: int, device: str
) -> None:
    import torch

    rng = np.random.default_rng(seed + 7)
    config = dict(toyclip.DEFAULT_CONFIG)
    if cfg.name == "tiny":
        config.update(width=8, features=16, embed=16)
    config.update(vocab=len(vocab.vocab()), pad=int(tokenizer.pad_token_id))
    model = toyclip.build(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed + 11)
    t0 = time.time()
    batch = cfg.batch * 2
    for step in range(cfg.clip_steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.clip_steps, cfg.lr)
        idx, x, ids = data.batch(gen, batch)
        negs = [hard_negative(data.scenes[i], rng) for i in idx.tolist()]
        neg_ids = tokenize(tokenizer, negs).to(device)
        img = model.encode_image((x + 1) / 2)
        txt = model.encode_text(torch.cat([ids, neg_ids]))
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
        # identical captions in a batch are not negatives of each other
        same = (ids[:, None, :] == torch.cat([ids, neg_ids])[None]).all(-1)
        target = torch.arange(len(idx), device=device)
        same[target, target] = False
        logits_i = logits.masked_fill(same, -1e4)
        loss_i = torch.nn.functional.cross_entropy(logits_i, target)
        logits_t = logits[:, : len(idx)].T.masked_fill(same[:, : len(idx)].T, -1e4)
        loss_t = torch.nn.functional.cross_entropy(logits_t, target)
        loss = (loss_i + loss_t) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == cfg.clip_steps - 1:
            acc = (logits_i.argmax(-1) == target).float().mean().item()
            log(
                f"toyclip step {step} loss {loss.item():.4f} acc {acc:.2f} "
                f"({time.time() - t0:.0f}s)"
            )
    target_dir = out / "toyclip"
    toyclip.save(model.eval().to("cpu"), target_dir)
    shutil.copytree(tok_dir, target_dir / "tokenizer", dirs_exist_ok=True)


def load_for_resume(directory: Path, step: int, device: str) -> tuple[Any, tuple[Any, Any, int]]:
    """(vae, (unet, text_encoder, step)) from a saved pipeline, in float32."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    f32 = torch.float32
    vae = AutoencoderKL.from_pretrained(str(directory / "vae"), torch_dtype=f32).to(device)
    unet = UNet2DConditionModel.from_pretrained(str(directory / "unet"), torch_dtype=f32)
    text = CLIPTextModel.from_pretrained(str(directory / "text_encoder"), dtype=f32)
    return vae.eval(), (unet, text, step)


STAGES = ("vae", "clip", "unet")
COMMAND = "python -m audit.toyworld.train"


def _default_workers() -> int:
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainOptions:
    """One training run; the fields are the command's options (see `audit.cli.toyworld`)."""

    out: Path = WEIGHTS
    config: str = "default"  # a name in models.CONFIGS
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads; None: torch's choice
    stages: Collection[str] = STAGES
    unet_minutes: float | None = None  # stop the UNet stage after this long
    stop_step: int | None = None  # stop the UNet stage at this step
    workers: int = field(default_factory=_default_workers)  # processes rendering the data
    resume: Path | None = None  # continue the UNet stage from this pipeline directory
    start_step: int = 0  # the step `resume` stopped at


def train(opts: TrainOptions, command: str = COMMAND) -> dict[str, float]:
    """Run the chosen stages into `opts.out`; returns seconds per stage. `command` is recorded
    in toy-shapes/training.json beside the seed, threads, machine and those seconds."""
    import torch

    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    cfg = models.CONFIGS[opts.config]
    stages = set(opts.stages)
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    tok_dir = out / "_tokenizer"
    tokenizer = vocab.build_tokenizer(tok_dir)
    log(f"config {cfg.name} on {opts.device}; rendering {cfg.dataset} scenes (seed {opts.seed})")
    started = time.time()
    seconds: dict[str, float] = {}
    data = Data(cfg, opts.seed, tokenizer, opts.device, workers=opts.workers)
    seconds["render"] = time.time() - started
    gen = torch.Generator().manual_seed(opts.seed)
    resume = None
    if opts.resume is not None:
        vae, resume = load_for_resume(opts.resume, opts.start_step, opts.device)
        stages = {"unet"}
    if "clip" in stages:
        t0 = time.time()
        train_toyclip(cfg, data, tokenizer, out, tok_dir, opts.seed, opts.device)
        seconds["clip"] = time.time() - t0
    if "vae" in stages or "unet" in stages:
        if resume is None:
            t0 = time.time()
            vae = train_vae(cfg, data, gen, opts.device)
            seconds["vae"] = time.time() - t0
        if "unet" in stages:
            t0 = time.time()
            train_diffusion(
                cfg,
                data,
                vae,
                out,
                tok_dir,
                gen,
                opts.device,
                minutes=opts.unet_minutes,
                stop_step=opts.stop_step,
                resume=resume,
            )
            seconds["unet"] = time.time() - t0
            seconds["total"] = time.time() - started
            _record(out / "toy-shapes" / "training.json", opts, command, seconds)
    shutil.rmtree(tok_dir, ignore_errors=True)
    log("done")
    return seconds


def _record(info_path: Path, opts: TrainOptions, command: str, seconds: dict[str, float]) -> None:
    """Add how the weights were made to the training.json that `train_diffusion` wrote."""
    import torch

    info = json.loads(info_path.read_text())
    info.update(
        seed=opts.seed,
        command=command,
        threads=torch.get_num_threads(),
        machine=f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        seconds={k: round(v, 1) for k, v in seconds.items()},
    )
    info_path.write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    # Run as a script, this file is a program entry point like audit/__main__.py, not a part
    # of the library: its options live in audit.cli.toyworld, which imports this module (so
    # the CLI is named here by string, not by an import).
    import importlib

    raise SystemExit(importlib.import_module("audit.cli.toyworld").train_main())
