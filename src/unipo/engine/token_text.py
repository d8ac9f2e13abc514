"""Token ids → display strings, each id decoded on its own (what the token contributes), cached."""
from __future__ import annotations


class TokenTexts:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._cache: dict[int, str] = {}

    def __call__(self, token_id: int) -> str:
        text = self._cache.get(token_id)
        if text is None:
            text = self.tokenizer.decode([token_id])
            self._cache[token_id] = text
        return text

    def strings(self, ids: list[int]) -> list[str]:
        return [self(i) for i in ids]

    def completion_text(self, ids: list[int]) -> str:
        """The text a verifier sees: special tokens (EOS, padding) removed."""
        return self.tokenizer.decode(ids, skip_special_tokens=True)
