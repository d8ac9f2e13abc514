"""Byte-level BPE tokens shown readably: Ġ as a space, Ċ as a newline, a character split over two
tokens as its pending bytes then the character — never "�". The tokenizer is a real byte-level BPE
(the `tokenizers` library, trained here on a few lines, offline)."""
import pytest

from unipo.engine.token_text import TokenTexts, byte_level_alphabet

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(["hello world\n", "the answer is 42", "caf\u00e9 au lait"] * 10, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>")


def test_the_alphabet_covers_every_byte_once():
    table = byte_level_alphabet()
    assert sorted(table.values()) == list(range(256))
    assert table["\u0120"] == 0x20 and table["\u010a"] == 0x0A  # Ġ, Ċ


def test_space_and_newline_tokens_read_as_text(tokenizer):
    ids = tokenizer("hello world\nthe", add_special_tokens=False)["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert any(p.startswith("\u0120") for p in pieces) and any("\u010a" in p for p in pieces)
    shown = TokenTexts(tokenizer).strings(ids)
    assert "".join(shown) == "hello world\nthe"
    assert not any("\u0120" in s or "\u010a" in s for s in shown)


def test_a_character_split_over_tokens_shows_bytes_then_the_character(tokenizer):
    ids = tokenizer("ok \U0001F600 ok", add_special_tokens=False)["input_ids"]  # 😀: 4 bytes, unseen in training
    shown = TokenTexts(tokenizer).strings(ids)
    assert "\ufffd" not in "".join(shown)
    assert any("\U0001F600" in s for s in shown)
    assert any(s.startswith("\u27e8") or " \u27e8" in s for s in shown)  # ⟨f0 ..⟩ on the token(s) before it
    alone = TokenTexts(tokenizer)
    assert all("\ufffd" not in alone(i) for i in ids)  # one id at a time: bytes, not replacement marks


def test_special_tokens_and_completion_text(tokenizer):
    texts = TokenTexts(tokenizer)
    eos = tokenizer.eos_token_id
    assert texts.strings([eos]) == ["<eos>"]
    ids = tokenizer("the answer", add_special_tokens=False)["input_ids"] + [eos]
    assert texts.completion_text(ids) == "the answer"
