"""Policy models: the built-in tiny character-level Llama and loading of local Hugging Face models."""
from unipo.models.evaluation import evaluate_accuracy, generate_completions
from unipo.models.loading import LoadedModel, load_model_directory, load_policy_model
from unipo.models.tiny import build_tiny_model, count_parameters
from unipo.models.tokenizer import build_char_tokenizer
from unipo.models.warmup import WarmupSettings, warm_up_tiny_model

__all__ = [
    "LoadedModel",
    "WarmupSettings",
    "build_char_tokenizer",
    "build_tiny_model",
    "count_parameters",
    "evaluate_accuracy",
    "generate_completions",
    "load_model_directory",
    "load_policy_model",
    "warm_up_tiny_model",
]
