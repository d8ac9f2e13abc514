"""A character-level Hugging Face tokenizer over the shared task alphabet.

One character is one token, so a prompt always tokenizes the same way (no merges that depend on
context) and decoding gives back the exact text. `tokenizer(text)` prepends BOS; generation stops
at EOS; padding is on the left, as batched generation needs.
"""
from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from unipo.tasks.alphabet import BOS_TOKEN, CHARACTERS, EOS_TOKEN, PAD_TOKEN, SPECIAL_TOKENS, UNK_TOKEN


def build_char_tokenizer(characters: str = CHARACTERS) -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for ch in characters:
        vocab.setdefault(ch, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    # Every character, including spaces and newlines, is its own piece.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    # Fuse joins the pieces without the spaces WordLevel decoding would put between them.
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A",
        pair=f"{BOS_TOKEN} $A $B",
        special_tokens=[(BOS_TOKEN, vocab[BOS_TOKEN])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],
    )
