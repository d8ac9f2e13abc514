"""Token ids → display strings: what each token contributes to the text, readably.

Byte-level BPE vocabularies (GPT-2, Llama-3, SmolLM2) spell a token's bytes with printable stand-ins
(Ġ for a space, Ċ for a newline, "ðŁĺ" for the first bytes of an emoji). Decoding one id at a time
turns Ġ/Ċ into the space/newline they mean, but a character whose UTF-8 bytes are split over two
tokens decodes to "�" twice. `strings(ids)` therefore decodes the bytes of a sequence
incrementally: a token shows every character it completes, and the bytes it leaves pending are
written as ⟨f0 9f 98⟩ — so "😀" split in two shows as "⟨f0 9f 98⟩" then "😀", never "�", "�".
"""
from __future__ import annotations

import codecs

PENDING_OPEN, PENDING_CLOSE = "\u27e8", "\u27e9"
REPLACEMENT = "\ufffd"


def byte_level_alphabet() -> dict[str, int]:
    """The printable stand-in of each byte in byte-level BPE (the GPT-2 scheme): printable Latin-1
    bytes stand for themselves, the other 68 are shifted to code points 256 and up, in byte order."""
    kept = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, shifted = {}, 0
    for byte in range(256):
        if byte in kept:
            table[chr(byte)] = byte
        else:
            table[chr(256 + shifted)] = byte
            shifted += 1
    return table


_BYTE_OF = byte_level_alphabet()


class TokenTexts:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._cache: dict[int, str] = {}
        self._bytes: dict[int, bytes | None] = {}
        self._special = set(getattr(tokenizer, "all_special_ids", []) or [])

    def __call__(self, token_id: int) -> str:
        text = self._cache.get(token_id)
        if text is None:
            text = self.tokenizer.decode([token_id])
            if REPLACEMENT in text:  # part of a multi-byte character: show its bytes
                raw = self.token_bytes(token_id)
                if raw is not None:
                    text = _readable(raw)
            self._cache[token_id] = text
        return text

    def token_bytes(self, token_id: int) -> bytes | None:
        """The raw bytes of a byte-level BPE token (None for other vocabularies and special tokens)."""
        if token_id in self._bytes:
            return self._bytes[token_id]
        raw = None
        if token_id not in self._special:
            piece = self.tokenizer.convert_ids_to_tokens(token_id)
            if isinstance(piece, str) and piece and all(ch in _BYTE_OF for ch in piece):
                raw = bytes(_BYTE_OF[ch] for ch in piece)
        self._bytes[token_id] = raw
        return raw

    def strings(self, ids: list[int]) -> list[str]:
        out: list[str] = []
        decoder = None
        for token_id in ids:
            text = self(token_id)
            raw = self.token_bytes(token_id) if (REPLACEMENT in text or PENDING_OPEN in text or decoder) else None
            if raw is None:
                if decoder is not None:  # a character left incomplete: keep its bytes visible
                    decoder = None
                out.append(text)
                continue
            decoder = decoder or codecs.getincrementaldecoder("utf-8")(errors="replace")
            complete = decoder.decode(raw)
            pending, _ = decoder.getstate()
            if pending:  # only this token's own bytes of the unfinished character
                complete += _pending(pending[-min(len(pending), len(raw)):])
            else:
                decoder = None
            out.append(complete)
        return out

    def completion_text(self, ids: list[int]) -> str:
        """The text a verifier sees: special tokens (EOS, padding) removed."""
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def _pending(raw: bytes) -> str:
    return PENDING_OPEN + " ".join(f"{b:02x}" for b in raw) + PENDING_CLOSE


def _readable(raw: bytes) -> str:
    """One token alone: its complete characters, and its incomplete bytes as ⟨..⟩."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    out, i = [], 0
    while i < len(raw):
        try:
            out.append(decoder.decode(raw[i:i + 1]))
        except UnicodeDecodeError:
            decoder.reset()
            out.append(_pending(raw[i:i + 1]))
        i += 1
    pending, _ = decoder.getstate()
    return "".join(out) + (_pending(pending) if pending else "")
