"""Research analyses over stored steps ("why did this step do that"): numpy/pyarrow only.

Each analysis is registered with `unipo.analyses.registry.analysis`, declares the stored columns and
metrics it needs, and says which are missing when a run (an imported one, say) lacks them. Loss math
stays in `unipo.algorithms`: analyses read the terms the engine (or an importer) stored, and what
needs a recompute is asked of the what-if path. Nothing here imports torch.
"""
from unipo.analyses.registry import ANALYSES, Analysis, analysis, catalogue, run_analysis  # noqa: F401
