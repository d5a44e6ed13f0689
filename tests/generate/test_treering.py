"""Tree-Ring keys: mask, pattern, injection, p-value; the spec option and the request key.

Reference values below were recorded once from the reference implementation,
github.com/YuxinWenRick/tree-ring-watermark at commit 3015283d9cf82e90b628f02ad2121bd37408ca9a
(optim_utils.py: `get_watermarking_pattern` with w_pattern='ring', `get_p_value`,
`eval_watermark` with 'l1_complex'), run on torch 2.14 / scipy 1.17 with the inputs built
here (shape (1, 4, 16, 16), w_seed 1234, w_radius 3, w_channel -1).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audit.config import SweepSpec, parse_spec
from audit.errors import UserError
from audit.generate.request import GenerationRequest, expand, watermark_of
from audit.generate.treering import (
    TreeRingKey,
    chi_square_p_value,
    distance,
    independent_mask,
    initial_latents,
    inject,
    key_pattern,
    p_value,
    shifted_fft,
    watermark_mask,
)
from audit.prompts.model import Prompt, PromptSuite

SHAPE = (4, 16, 16)
KEY = TreeRingKey(key_seed=1234, radius=3, channel=-1)

# Reference `get_watermarking_pattern(..., shape=(1, 4, 16, 16))` 'ring' values: the value of
# ring i (i = 1, 2, 3) in channel c. Ours are their real parts (module docstring).
REF_RING = [
    [-0.9304466247558594 + 16.518463134765625j, -18.161924362182617 + 25.601909637451172j,
     -5.89741849899292 + 0.49781179428100586j],
    [-10.429322242736816 + 6.984749794006348j, -10.794034957885742 + 7.785114765167236j,
     0.3026542663574219 - 0.8163237571716309j],
    [5.742109298706055 - 7.445343017578125j, -18.55029296875 + 18.455001831054688j,
     -6.820411682128906 + 12.868464469909668j],
    [-28.831314086914062 + 18.106159210205078j, 3.0805861949920654 + 0.6909217834472656j,
     14.352409362792969 + 14.159308433532715j],
]  # fmt: skip
# Reference `get_p_value` on our independent half-mask, and `eval_watermark` on the full mask.
REF_P_PLAIN, REF_P_PARTIAL = 0.6437129476134545, 0.0557190771451403
REF_DISTANCE_PLAIN = 18.340257435835888


def plain_latent() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)


def test_ring_values_are_the_real_parts_of_the_reference_pattern() -> None:
    ours = key_pattern(SHAPE, KEY)
    for c in range(4):
        for i in (1, 2, 3):  # row H//2 here; the reference's disc is centred a row higher
            assert ours[c, 8, 8 + i] == pytest.approx(REF_RING[c][i - 1].real, rel=1e-5)
            assert ours[c, 8, 8 + i].imag == 0.0
    mask = watermark_mask(SHAPE, KEY)
    assert mask.sum() == 4 * 29  # a disc of radius 3 holds 29 frequencies, in every channel
    assert not watermark_mask(SHAPE, dataclasses.replace(KEY, channel=2))[[0, 1, 3]].any()


def test_injection_changes_only_the_masked_fourier_values_and_writes_the_key() -> None:
    plain = plain_latent()
    marked = inject(plain, KEY)
    assert marked.dtype == plain.dtype and marked.shape == plain.shape
    before, after = shifted_fft(plain), shifted_fft(marked)
    mask = watermark_mask(SHAPE, KEY)
    assert np.abs(after[~mask] - before[~mask]).max() < 1e-4  # outside: untouched
    assert np.abs(after[mask] - key_pattern(SHAPE, KEY)[mask]).max() < 1e-4  # inside: key
    assert np.abs(after[mask] - before[mask]).mean() > 1.0
    assert not np.allclose(marked, plain)


def test_p_value_and_distance_match_the_reference_formulas() -> None:
    plain = plain_latent()
    mask = independent_mask(watermark_mask(SHAPE, KEY))
    assert mask.sum() == 4 * 14  # 29 frequencies: the zero one and 14 conjugate pairs
    assert p_value(plain, KEY) == pytest.approx(REF_P_PLAIN, rel=1e-6)
    assert distance(plain, KEY) == pytest.approx(REF_DISTANCE_PLAIN, rel=1e-6)
    marked = inject(plain, KEY)
    assert p_value(marked, KEY) < 1e-12 and distance(marked, KEY) < 1e-4
    noise = np.random.default_rng(0)
    noise.standard_normal(SHAPE)  # the draw REF_P_PARTIAL's recording made second
    partial = 0.6 * (0.5 * marked + 0.5 * plain) + 0.8 * noise.standard_normal(SHAPE)
    assert p_value(partial.astype(np.float32), KEY) == pytest.approx(REF_P_PARTIAL, rel=1e-5)
    # A flat latent carries no evidence: p = 1, not a division by zero.
    assert chi_square_p_value(np.zeros(3, complex), np.ones(3, complex)) == 1.0


def test_unmarked_p_values_are_roughly_uniform() -> None:
    rng = np.random.default_rng(1)
    key = TreeRingKey(5, 6, -1)
    ps = np.array([p_value(rng.standard_normal(SHAPE), key) for _ in range(300)])
    assert 0.0 <= (ps < 0.05).mean() <= 0.1  # the reference's double count gives ~0.2
    assert 0.4 < np.median(ps) < 0.6


def test_initial_latents_match_diffusers_noise_and_carry_the_key() -> None:
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    latents = initial_latents(SHAPE, [3, 4], [None, KEY], torch.float32)
    gens = [torch.Generator("cpu").manual_seed(s) for s in (3, 4)]
    drawn = randn_tensor((2, *SHAPE), generator=gens, dtype=torch.float32)
    assert torch.equal(latents[0], drawn[0])  # unmarked: exactly what diffusers draws
    assert np.allclose(latents[1].numpy(), inject(drawn[1].numpy(), KEY), atol=1e-6)


def test_key_shape_checks_name_field_and_fix() -> None:
    with pytest.raises(UserError) as err:
        TreeRingKey(radius=8).check_shape(SHAPE, "toy", "provenance.watermark")
    assert err.value.field == "provenance.watermark.radius" and "below 8" in err.value.fix
    with pytest.raises(UserError) as err:
        TreeRingKey(radius=3, channel=4).check_shape(SHAPE, "toy", "provenance.watermark")
    assert err.value.field == "provenance.watermark.channel"
    TreeRingKey(radius=7, channel=3).check_shape(SHAPE, "toy", "provenance.watermark")


BASE = {
    "name": "wm",
    "models": [{"id": "a", "source": "builtin:toy-shapes"}, {"id": "b", "source": "x/y"}],
    "samplers": ["ddim"],
    "steps": [2],
    "guidance": [1.0],
    "seeds": [0],
    "suites": ["toy"],
}


def spec(watermark: object) -> SweepSpec:
    return parse_spec({**BASE, "provenance": {"watermark": watermark}}, file="s.yaml")


@pytest.mark.parametrize(
    ("watermark", "field"),
    [
        ({"radius": 0}, "provenance.watermark.radius"),
        ({"radius": 100}, "provenance.watermark.radius"),
        ({"channel": -2}, "provenance.watermark.channel"),
        ({"pattern": "zeros"}, "provenance.watermark.pattern"),
        ({"method": "gaussian-shading"}, "provenance.watermark.method"),
        ({"strength": 1}, "provenance.watermark.strength"),
    ],
)
def test_bad_watermark_options_name_the_field(watermark: dict[str, object], field: str) -> None:
    with pytest.raises(UserError) as err:
        spec(watermark)
    assert err.value.field == field and err.value.file == "s.yaml" and err.value.fix


def test_watermarked_models_must_exist() -> None:
    with pytest.raises(UserError) as err:
        spec({"models": ["a", "nope"]})
    assert "nope" in err.value.problem and "provenance.watermark.models" in err.value.problem


def test_the_watermark_folds_into_the_request_key_of_listed_models_only() -> None:
    suite = PromptSuite(name="s", source="builtin:s", prompts=[Prompt(id="p", text="a red circle")])
    sizes = {"a": (64, 64), "b": (64, 64)}
    prints = {"a": "fa", "b": "fb"}
    plain = {r.model_id: r for r in expand(parse_spec(BASE), [suite], prints, sizes)}
    marked = {r.model_id: r for r in expand(spec({"models": ["a"]}), [suite], prints, sizes)}
    assert marked["b"].key == plain["b"].key and marked["b"].watermark == ""
    assert marked["a"].key != plain["a"].key
    assert TreeRingKey.from_canonical(marked["a"].watermark) == TreeRingKey()
    other = spec({"models": ["a"], "key_seed": 1})
    assert watermark_of(other, "a") != marked["a"].watermark
    # The key hashes the watermark; an unmarked request's key is what it always was.
    fields = {f.name: getattr(plain["a"], f.name) for f in dataclasses.fields(GenerationRequest)}
    again = GenerationRequest(**{**fields, "watermark": marked["a"].watermark})
    assert again.key == marked["a"].key
    assert all(r.watermark for r in expand(spec({}), [suite], prints, sizes))
