"""The built-in reference world: procedural data, a tiny trained model, exact scorers.

* `world` — seeded scenes (1-4 shapes in five colours, or 1-3 glyphs), captions, renders
* `reader` — counts, colours and positions read exactly from pixels (scipy.ndimage)
* `vocab` — the small CLIP-BPE vocabulary the toy tokenizers use
* `models`, `train` — `python -m audit.toyworld.train`: VAE, UNet, text encoder, toy-CLIP
* `toyclip` — `load_toyclip()` / `feature_module()` for CLIP alignment and `fd_toyclip`
* `validate` — measured numbers (`t2i-audit toyworld validate`)
* `toycount` — the pixel-exact composition scorer (`scorers: [toycount]`)
* `plugin` — what this package registers through entry points (pyproject.toml), exactly as a
  third-party plugin would: its models, CLIP model, extractor, reference and scorer. The core
  never imports this package.

Shipped weights live in `weights/` (diffusers layout, safetensors): `toy-shapes`,
`toy-shapes-weak` and `toyclip`.
"""
