from transformers import AutoTokenizer

from unipo.models import build_char_tokenizer
from unipo.tasks import get_task
from unipo.tasks.alphabet import CHARACTERS


def test_one_character_one_token_and_exact_round_trip(tmp_path):
    tokenizer = build_char_tokenizer()
    text = "57+68= 7+8=15,5+6+1=12:125\n sort:3141=  "
    ids = tokenizer(text).input_ids
    assert ids[0] == tokenizer.bos_token_id
    assert len(ids) == len(text) + 1
    assert tokenizer.convert_ids_to_tokens(ids[1:]) == list(text)
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(text).input_ids == ids
    assert reloaded.decode(ids, skip_special_tokens=True) == text
    assert (reloaded.pad_token_id, reloaded.bos_token_id, reloaded.eos_token_id) == (0, 1, 2)
    assert reloaded.padding_side == "left"
    assert len(reloaded) == 4 + len(CHARACTERS)


def test_prompts_tokenize_the_same_alone_and_in_a_padded_batch():
    tokenizer = build_char_tokenizer()
    prompts = [ex.prompt for ex in get_task("arithmetic", max_digits=3).prompts("train", 8, seed=0)]
    batch = tokenizer(prompts, padding=True)
    for prompt, row, mask in zip(prompts, batch.input_ids, batch.attention_mask):
        kept = [token for token, m in zip(row, mask) if m]
        assert kept == tokenizer(prompt).input_ids
        assert row[: len(row) - len(kept)] == [tokenizer.pad_token_id] * (len(row) - len(kept))


def test_characters_outside_the_alphabet_become_unk():
    tokenizer = build_char_tokenizer()
    assert tokenizer("A").input_ids == [tokenizer.bos_token_id, tokenizer.unk_token_id]
