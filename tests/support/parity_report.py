"""One line per parity comparison, shown with `pytest -s` (the closing notes' parity tables come from it)."""


def report(case: str, loss_difference: float, grad_difference: float) -> None:
    print(f"PARITY {case}: |Δloss| {abs(loss_difference):.1e}  max|Δgrad| {grad_difference:.1e}")
