"""The character alphabet every built-in task writes in; the tiny model's vocabulary is built from it.

Kept small so a ~1M-parameter model spends its capacity on the task, not on an embedding table.
Special tokens come first so their ids are stable: PAD=0, BOS=1, EOS=2, UNK=3.
"""
from __future__ import annotations

PAD_TOKEN = "<pad>"
BOS_TOKEN = "<bos>"
EOS_TOKEN = "<eos>"
UNK_TOKEN = "<unk>"
SPECIAL_TOKENS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, UNK_TOKEN)

DIGITS = "0123456789"
SYMBOLS = " \n+-*=,:;.?|()<>"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CHARACTERS = DIGITS + SYMBOLS + LETTERS


def characters_outside_alphabet(text: str) -> set[str]:
    allowed = set(CHARACTERS)
    return {ch for ch in text if ch not in allowed}
