"""The toy tokenizer: small, word-level for the world's words, characters inside quotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.toyworld import vocab, world


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> object:
    from transformers import CLIPTokenizer

    directory = tmp_path_factory.mktemp("tok")
    vocab.build_tokenizer(directory)
    return CLIPTokenizer.from_pretrained(str(directory))


def _tokens(tok: object, text: str) -> list[str]:
    ids = tok(text).input_ids  # type: ignore[operator]
    return tok.convert_ids_to_tokens(ids)[1:-1]  # type: ignore[attr-defined]


def test_vocabulary_is_small(tok: object) -> None:
    assert len(tok) == len(vocab.vocab()) < 300  # type: ignore[arg-type]


def test_world_words_are_single_tokens(tok: object) -> None:
    for word in vocab.WORDS:
        assert _tokens(tok, word) == [word + "</w>"]


def test_quoted_glyphs_are_characters(tok: object) -> None:
    assert _tokens(tok, "the letters 'AB'") == [
        "the</w>",
        "letters</w>",
        "'</w>",
        "a",
        "b</w>",
        "'</w>",
    ]
    for text in ["K7", "XQZ", "42", "H3M", "Q"]:
        assert vocab.char_split(text)
        inner = [t.replace("</w>", "") for t in _tokens(tok, f"the text '{text}'")[2:]]
        assert [t for t in inner if t != "'"] == list(text.lower())


def test_char_split_vetoes_world_fragments(tok: object) -> None:
    for text in ["RED", "ONE", "OF"]:
        assert not vocab.char_split(text)
        inner = [t for t in _tokens(tok, f"the text '{text}'")[2:] if t not in ("'", "'</w>")]
        assert len(inner) < len(text)  # merged: why the world never draws these strings


def test_every_training_caption_fits_without_unknown_tokens(tok: object) -> None:
    unk = tok.unk_token_id  # type: ignore[attr-defined]
    for scene in world.dataset(0, 400, glyph_ok=vocab.char_split):
        for cap in scene.captions:
            ids = tok(cap).input_ids  # type: ignore[operator]
            assert len(ids) <= vocab.MAX_LENGTH
            assert unk not in ids[1:-1], cap


def test_saved_files(tmp_path: Path) -> None:
    vocab.build_tokenizer(tmp_path)
    assert (tmp_path / "vocab.json").is_file() and (tmp_path / "merges.txt").is_file()
