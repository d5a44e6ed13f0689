"""What the reference world adds to the suite, registered exactly as a third-party plugin would.

pyproject.toml names each object below in an entry-point group; the core finds them there and
never imports this package itself (a test checks that):

* `t2i_audit.models`       ``toy-shapes``, ``toy-shapes-weak``: the shipped trained models
* `t2i_audit.clip_models`  ``toyclip``: `clip: {model: toyclip}`
* `t2i_audit.extractors`   ``toyclip``: the toy CLIP's image features (`fd_toyclip`)
* `t2i_audit.references`   ``toyworld``: `fid: {reference: builtin:toyworld}`
* `t2i_audit.scorers`      ``toycount``: `audit.toyworld.toycount`
"""

from __future__ import annotations

from pathlib import Path

from audit.generate.builtin import BuiltinModel
from audit.scorers.clip import NamedClipModel
from audit.scorers.reference import BuiltinReference
from audit.toyworld import reference, toyclip

WEIGHTS = Path(__file__).parent / "weights"
RETRAIN = "train them with `python -m audit.toyworld.train` or reinstall t2i-audit"

TOY_SHAPES = BuiltinModel(
    "toy-shapes",
    "tiny model trained here on the procedural shapes-and-glyphs world",
    None,
    WEIGHTS / "toy-shapes",
    missing_fix=RETRAIN,
)
TOY_SHAPES_WEAK = BuiltinModel(
    "toy-shapes-weak",
    "an early checkpoint of toy-shapes, to demonstrate regressions",
    None,
    WEIGHTS / "toy-shapes-weak",
    missing_fix=RETRAIN,
)

TOYCLIP = NamedClipModel(
    weights=toyclip.WEIGHTS,
    load=toyclip.load_toyclip,  # 64 px images in [0, 1], its own vocabulary
    input_size=64,
    fix=RETRAIN,
)

toyclip_extractor = reference.toyclip_extractor

TOYWORLD_REFERENCE = BuiltinReference(
    identity=reference.REFERENCE_NAME, build=reference.build_toyworld_reference
)
