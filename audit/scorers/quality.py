"""No-reference image quality: BRISQUE (Mittal et al. 2012) via the `brisque` package.

The package ships its SVM regressor and feature scaling parameters, so this runs offline.
Scores are roughly 0 (pristine) .. 100 (heavily distorted), lower is better; they can fall
slightly outside that range.

`brisque` 0.2.0 crashes under NumPy 2 as shipped: some of its 18 features per scale come
out as 1-element arrays inside an object array, and `float()` of a 1-d array is an error in
NumPy 2. `_flat_brisque` subclasses it (site-packages stays untouched) and flattens the
features to a float vector before the package's own scaling and SVM take over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audit.environment import installed_versions
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.packaged_files import packaged_file_digest, packaged_files_requirement

# BRISQUE: shape and variance of the MSCN coefficients + 4 values for each of 4 pair products.
FEATURES_PER_SCALE = 18


class QualityOptions(ScorerOptions):
    pass


class QualityScorer(ImageScorer[QualityOptions]):
    name = "quality"
    version = "1"
    offline = True
    batch_size = 32

    def __init__(self, options: QualityOptions | None = None) -> None:
        super().__init__(options)
        self._model: Any = None

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return [
            package_requirement("brisque"),
            package_requirement("libsvm", "libsvm-official"),
            package_requirement("cv2", "opencv-python-headless<5"),
            package_requirement("skimage", "scikit-image"),
            packaged_files_requirement(
                "brisque", ["models/svm.txt", "models/normalize.pickle"], "brisque"
            ),
        ]

    def loads(self) -> dict[str, str]:
        """The packaged SVM regressor and feature scaling (digests, once per process), and
        the brisque version whose feature code feeds them."""
        return {
            "svm": packaged_file_digest("brisque", "models/svm.txt"),
            "normalize": packaged_file_digest("brisque", "models/normalize.pickle"),
            **installed_versions(["brisque"]),
        }

    def metrics(self) -> list[Metric]:
        return [
            Metric(
                "brisque",
                "lower",
                description="BRISQUE no-reference distortion score, ~0 pristine .. ~100 poor",
            )
        ]

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        return [{"brisque": self.score_image(item.image())} for item in items]

    def score_image(self, image: Any) -> float:
        """BRISQUE of an RGB PIL image (or an HxWx3 uint8 array)."""
        import numpy as np

        if self._model is None:
            self._model = _flat_brisque()
        return float(self._model.score(np.asarray(image)))


def _flat_brisque() -> Any:
    """A `brisque.BRISQUE` whose per-scale features are a flat float64 vector."""
    import numpy as np
    from brisque import BRISQUE

    class FlatBrisque(BRISQUE):
        def calculate_brisque_features(
            self, image: Any, kernel_size: int = 7, sigma: float = 7 / 6
        ) -> Any:
            features = super().calculate_brisque_features(
                image, kernel_size=kernel_size, sigma=sigma
            )
            flat = np.concatenate([np.ravel(np.asarray(f, dtype=np.float64)) for f in features])
            if flat.shape != (FEATURES_PER_SCALE,):
                raise RuntimeError(
                    f"brisque gave {flat.size} features per scale, expected {FEATURES_PER_SCALE}: "
                    "this brisque version is not supported; pip install 'brisque==0.2.0'"
                )
            return flat

    return FlatBrisque()
