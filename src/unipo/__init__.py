"""UNIPO: policy-optimization algorithms for language-model RL, visible token by token."""

__version__ = "0.1.0"
