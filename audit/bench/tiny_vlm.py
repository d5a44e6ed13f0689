"""A tiny random LLaVA (transformers' LlavaForConditionalGeneration: CLIP vision tower, Llama
language model) with its processor and chat template, built in code and saved with
save_pretrained as a hub model is (no download)."""

from __future__ import annotations

from pathlib import Path

# LLaVA-1.5-hf's conversation shape ("USER: <image>\n... ASSISTANT:"), as a Jinja template.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() }}: "
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %} {% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# Answer forms, each also at the start of a piece ("Yes" as well as " Yes").
ANSWER_WORDS = "yes Yes no No one One two Two three Three four Four 1 2 3 4 it red"

# Every word the tests ask about, so the word-level vocabulary knows them; anything else
# reads as [UNK] (a random model does not care).
CORPUS = (
    'USER: ASSISTANT: Does this figure show "a red cube"? Please answer yes or no. '
    "Does this image show Answer the question with Yes No Answer in one word. "
    "How many cubes are in the image? Is the cube red? Are there any cubes in the image? "
    "two blue spheres on a table green dog sofa cat three yellow triangles four "
    "yes Yes no No one One two Two three Three four Four 1 2 3 4 it does not "
    "Is there a dog? Is the dog brown? What color is the cube? red blue green\n"
    + "\n".join(ANSWER_WORDS.split())
)


def _tokenizer() -> object:
    """A byte-level word tokenizer (`Yes`, ` Yes`, `yes`, ` yes` are four tokens, as in the
    byte-level BPE of Qwen or Llama 3) that adds no special tokens of its own."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
    pieces = [p for p, _ in pre.pre_tokenize_str(CORPUS)]
    vocab = {t: i for i, t in enumerate(["<pad>", "[UNK]", *dict.fromkeys(pieces)])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="<pad>")
    fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return fast


def build_tiny_llava(out: Path, seed: int = 0) -> Path:
    """LlavaForConditionalGeneration (2-layer, 32-wide CLIP vision tower on 32 px images,
    2-layer Llama) with a LlavaProcessor and chat template, saved as a hub model would be."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = _tokenizer()
    image_id = tokenizer.convert_tokens_to_ids("<image>")  # type: ignore[attr-defined]
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        image_size=32, patch_size=8,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, pad_token_id=0,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=image_id, vision_feature_layer=-2
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    with torch.no_grad():  # a random model's logits are flat; widen them so answers differ
        model.lm_head.weight.mul_(10.0)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
