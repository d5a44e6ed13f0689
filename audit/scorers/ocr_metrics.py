"""Text-rendering metrics from OCR output, as MARIO-Eval (TextDiffuser) defines them.

Pure functions, no OCR engine: `audit.scorers.text` reads the image, this module compares.

MARIO-Eval per image (its `get_p_r_acc`):
  * both sides are lists of words, lower-cased and stripped;
  * matched = size of the multiset intersection of OCR words and target words;
  * precision = matched / number of OCR words (0 when nothing was read);
  * recall = matched / number of target words;
  * exact = ''.join(sorted(ocr words)) == ''.join(sorted(target words)).

MARIO reports the run-level F from the *averaged* P and R; that is done in aggregation.
The per-image `f1` here is 2PR / (P + R) of one image, for browsing single images.

`ned` (normalised edit distance, lower is better) compares the same two strings that
`exact` compares: Levenshtein distance / length of the longer string, so ned == 0 exactly
when exact is true, and 1 means nothing in common (e.g. nothing was read).

MARIO-Eval compatibility (`mario_key_words`, `mario_scores`): TextDiffuser's own script
(microsoft/unilm, textdiffuser/eval/ocr_eval.py) differs from the rules above where a prompt
has no target, and in small ways elsewhere; its run-level numbers come out exactly only when
those are kept too:

  * targets are `re.findall(r"'(.*?)'", prompt.strip().lower())`, split at whitespace, so an
    apostrophe inside a quote ends it ('Don't Panic!' targets "don");
  * every image counts: one whose prompt has no target scores precision 0 and recall 0, and
    accuracy 1 when nothing was read (both sorted concatenations are empty), else 0;
  * every OCR entry is a word, an empty one too (an image where nothing was read is one
    empty line of OCR output), and the denominators carry its + 1e-8;
  * run level: P and R are plain means over all images, F = 2PR / (P + R + 1e-8).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MARIO_EPS = 1e-8  # TextDiffuser's guard in every denominator; kept so numbers match exactly
_MARIO_QUOTE = re.compile(r"'(.*?)'")


@dataclass(frozen=True)
class OcrMetrics:
    precision: float
    recall: float
    f1: float
    exact: bool
    ned: float


def words(texts: Iterable[str]) -> list[str]:
    """Lines or phrases -> lower-cased words split on whitespace (MARIO splits quoted phrases)."""
    return [w.lower() for text in texts for w in text.split()]


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit costs for insert, delete and substitute."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalised_edit_distance(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    return levenshtein(a, b) / longest if longest else 0.0


def ocr_metrics(read: Sequence[str], target: Sequence[str]) -> OcrMetrics:
    """Compare OCR words with target words (both already split; case is ignored).

    `target` must not be empty: an image with no target text has no text metrics.
    """
    pred = [w.strip().lower() for w in read if w.strip()]
    gold = [w.strip().lower() for w in target if w.strip()]
    if not gold:
        raise ValueError("ocr_metrics needs at least one target word")
    matched = sum((Counter(pred) & Counter(gold)).values())
    precision = matched / len(pred) if pred else 0.0
    recall = matched / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    read_joined = "".join(sorted(pred))
    gold_joined = "".join(sorted(gold))
    return OcrMetrics(
        precision=precision,
        recall=recall,
        f1=f1,
        exact=read_joined == gold_joined,
        ned=normalised_edit_distance(read_joined, gold_joined),
    )


@dataclass(frozen=True)
class MarioScores:
    precision: float
    recall: float
    accuracy: bool


def mario_key_words(prompt: str) -> list[str]:
    """MARIO-Eval's targets: words inside '...' of the lower-cased prompt (non-greedy)."""
    return [w for phrase in _MARIO_QUOTE.findall(prompt.strip().lower()) for w in phrase.split()]


def mario_scores(entries: Sequence[str], target: Sequence[str]) -> MarioScores:
    """TextDiffuser's per-image precision, recall and accuracy of OCR `entries` (one per OCR
    output line, blank ones included) against `target` (may be empty)."""
    pred = [e.strip().lower() for e in entries]
    gold = [t.strip().lower() for t in target]
    matched = sum((Counter(pred) & Counter(gold)).values())
    return MarioScores(
        precision=matched / (len(pred) + MARIO_EPS),
        recall=matched / (len(gold) + MARIO_EPS),
        accuracy="".join(sorted(pred)) == "".join(sorted(gold)),
    )


def mario_f(precision: float, recall: float) -> float:
    """MARIO-Eval's run-level F from the averaged precision and recall."""
    return 2 * precision * recall / (precision + recall + MARIO_EPS)
