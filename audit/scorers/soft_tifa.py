"""Soft-TIFA: VQA judgements of a prompt's questions, combined as GenEval 2 defines them.

Source: GenEval 2 (Kamath et al., "GenEval 2: Addressing Benchmark Drift in Text-to-Image
Evaluation", arXiv:2512.16853; github.com/facebookresearch/GenEval2 at a6e82d2,
`evaluation.py` and `soft_tifa_analysis.py`):

* a question's soft score is the VQA model's probability of the expected answer: the question
  is asked as "{question} Answer in one word." and the next-token probabilities of the first
  token of each written form of the answer are summed (`answer_forms`: "Yes", "yes", " yes",
  " Yes"; for a number word also its digits, "four" -> "4");
* Soft-TIFA AM of an image: the arithmetic mean of its questions' soft scores (an atom-level
  estimate); over a benchmark, per atom type, the soft scores of all questions of that type
  pooled (`per_atom_means`, GenEval 2's per-skill analysis);
* Soft-TIFA GM of an image: the geometric mean of its questions' soft scores (a prompt-level
  estimate: one missed atom pulls the prompt down); over a benchmark, its mean.

GenEval 2 reports these numbers times 100; here they stay in [0, 1] like every other score.
Two differences, both where GenEval 2's script relies on Qwen3-VL's tokenizer: forms whose
first tokens coincide are counted once (GenEval 2 would add that token's probability twice;
Qwen3-VL's tokens for the forms above are distinct, so the numbers agree), and a question's
expected answer is used whatever the question (GenEval 2 uses the "Yes" forms for every
question that does not start with "How many"; all its other answers are "Yes").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

QUESTION_TEMPLATE = "{} Answer in one word."

NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
"""GenEval 2's `return_numeric_string`: the digits a count may be answered with."""


def answer_forms(answer: str) -> list[str]:
    """The written forms of an expected answer whose probabilities make its soft score:
    lower-case and capitalised, each bare and after a space, then the digits of a number
    word the same way (GenEval 2's `answer_list`)."""
    word = answer.strip().lower()
    forms = [word, word.capitalize()]
    forms += [" " + f for f in forms]
    digits = NUMBER_WORDS.get(word)
    if digits is not None:
        forms += [digits, " " + digits]
    return list(dict.fromkeys(forms))


def arithmetic_mean(scores: Sequence[float]) -> float | None:
    """Soft-TIFA AM of one image; None without questions."""
    return sum(scores) / len(scores) if scores else None


def geometric_mean(scores: Sequence[float]) -> float | None:
    """Soft-TIFA GM of one image (scipy.stats.gmean: 0 when any score is 0); None without
    questions."""
    if not scores:
        return None
    if min(scores) <= 0.0:
        return 0.0
    return math.exp(sum(math.log(s) for s in scores) / len(scores))


def per_atom_means(
    scores: Iterable[Sequence[float]], atoms: Iterable[Sequence[str | None]]
) -> dict[str, float]:
    """Atom type -> the mean soft score of every question of that type, pooled over all
    images (GenEval 2's `per_skill_analysis`, without its factor 100). Questions without an
    atom are left out."""
    total: dict[str, float] = {}
    count: dict[str, int] = {}
    for image_scores, image_atoms in zip(scores, atoms, strict=True):
        if len(image_scores) != len(image_atoms):
            raise ValueError("one atom per question score is needed")
        for score, atom in zip(image_scores, image_atoms, strict=True):
            if atom is None:
                continue
            total[atom] = total.get(atom, 0.0) + score
            count[atom] = count.get(atom, 0) + 1
    return {atom: total[atom] / count[atom] for atom in total}
