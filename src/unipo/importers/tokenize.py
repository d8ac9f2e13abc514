"""--tokenizer DIR: token ids (and their text) for text-only dumps, with a local Hugging Face tokenizer."""
from __future__ import annotations

import numpy as np

from unipo.errors import UnipoError
from unipo.importers.parts import Response


def load_tokenizer(directory: str):
    from pathlib import Path
    if not Path(directory).is_dir():
        raise UnipoError(f"--tokenizer {directory}: not a folder (expected a saved Hugging Face tokenizer)")
    try:
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnipoError(f"--tokenizer {directory}: cannot be loaded as a tokenizer ({str(exc).splitlines()[0]})") from None


def tokenise(tokenizer, response: Response) -> None:
    """Fill token ids from the response text when the source gave none; token text from ids when
    the source gave ids only. Values given by the source are never replaced."""
    if response.token_ids is None and response.response_text:
        ids = tokenizer(response.response_text, add_special_tokens=False)["input_ids"]
        response.token_ids = np.asarray(ids, dtype=np.int64)
        response.length = None
    if response.token_ids is not None and response.tokens is None and len(response.token_ids):
        response.tokens = tokenizer.batch_decode([[int(i)] for i in response.token_ids])
