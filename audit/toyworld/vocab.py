"""A tiny CLIP-style BPE vocabulary: the world's words plus single characters.

The Stable Diffusion pipeline wants a `CLIPTokenizer`; a full 49,408-token CLIP vocabulary
would dominate the weights of a model this small, so this one holds only what the world says.
Merges are learnt greedily until each world word is a single token. Glyph strings
that such merges would touch are never drawn by the world (see `char_split`), so the
letters inside quotes always reach the model as single characters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from audit.toyworld.world import COLORS, NUMBER_WORDS, SHAPES

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 32
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789'.,-"

WORDS: tuple[str, ...] = tuple(
    sorted(
        set(COLORS)
        | set(NUMBER_WORDS)
        | set(SHAPES)
        | {s + "s" for s in SHAPES}
        | {"a", "picture", "of", "on", "white", "background", "left", "right", "above"}
        | {"below", "to", "the", "text", "sign", "that", "says", "letters", "letter", "number"}
        | {"and"}
    )
)


def merges() -> list[tuple[str, str]]:
    """Greedy BPE training on the word list until every world word is one token.

    Encoding applies merges in the order learned, which replays this training on any word,
    so each world word always ends as its single token.
    """
    words = [list(w[:-1]) + [w[-1] + "</w>"] for w in WORDS]
    out: list[tuple[str, str]] = []
    while True:
        counts: dict[tuple[str, str], int] = {}
        for w in words:
            for pair in set(zip(w, w[1:], strict=False)):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return out
        best = min(counts, key=lambda p: (-counts[p], p))
        out.append(best)
        words = [_merge(w, best) for w in words]


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def vocab() -> dict[str, int]:
    tokens = [BOS, EOS]
    for c in CHARS:
        tokens += [c, c + "</w>"]
    for a, b in merges():
        tokens.append(a + b)
    out: dict[str, int] = {}
    for t in tokens:
        out.setdefault(t, len(out))
    return out


# CLIP's pre-tokenizer pattern (ASCII part): contractions, letter runs, single digits, other.
_PRE = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")


def char_split(text: str) -> bool:
    """Whether `'text'` (quoted, lower-cased as CLIP does) tokenises to single characters."""
    pairs = set(merges())
    for piece in _PRE.findall(f"'{text.lower()}'"):
        symbols = list(piece[:-1]) + [piece[-1] + "</w>"]
        if any(p in pairs for p in zip(symbols, symbols[1:], strict=False)):
            return False
    return True


def save_tokenizer_files(directory: Path) -> None:
    """Write vocab.json and merges.txt, the inputs of `CLIPTokenizer`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab(), indent=0))
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges()]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n")


def build_tokenizer(directory: Path) -> object:
    """A `CLIPTokenizer` over this vocabulary, saved in `directory` (diffusers layout)."""
    from transformers import CLIPTokenizer

    save_tokenizer_files(directory)
    tok = CLIPTokenizer(vocab=vocab(), merges=merges(), model_max_length=MAX_LENGTH)
    tok.save_pretrained(str(directory))
    return tok
