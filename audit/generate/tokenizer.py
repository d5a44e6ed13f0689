"""A CLIP tokenizer built offline from the BPE vocabulary that open-clip-torch ships.

Diffusers pipelines want a `CLIPTokenizer` (vocab.json + merges.txt). The vocabulary
below is the one CLIP itself uses (49,408 tokens), rebuilt from open_clip's bundled
`bpe_simple_vocab_16e6.txt.gz` the way open_clip's SimpleTokenizer does it.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path


@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + n)
            n += 1
    return dict(zip(printable, [chr(c) for c in codes], strict=True))


def write_clip_tokenizer_files(out_dir: Path) -> None:
    """Write vocab.json and merges.txt for `transformers.CLIPTokenizer` into out_dir."""
    import importlib.util

    # Locate the package without importing it (open_clip's import pulls in timm and more).
    spec = importlib.util.find_spec("open_clip")
    if spec is None or spec.origin is None:
        raise RuntimeError("open-clip-torch is needed for its bundled CLIP vocabulary")
    bpe_path = Path(spec.origin).parent / "bpe_simple_vocab_16e6.txt.gz"
    with gzip.open(bpe_path) as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    vocab = list(_bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
