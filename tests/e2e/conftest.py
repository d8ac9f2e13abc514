"""Fixtures for the browser end-to-end tests: real runs, a live server, a Chromium page.

Runs: `unipo train` (the engine, tiny built-in model) when it works in this installation; a run
written with unipo.runs.RunWriter from unipo.algorithms outputs on a tiny real torch forward pass
otherwise. The run carrying hostile strings (prompt and token `<img src=x onerror=alert(1)>`) is
always written with RunWriter: the engine's vocabulary cannot produce such a token.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.live_server import LiveServer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
HOSTILE = "<img src=x onerror=alert(1)>"
VOCAB = list("0123456789+=. \n") + [HOSTILE]


# ---------------------------------------------------------------------------------------------
# Runs written with RunWriter from a tiny real forward pass
# ---------------------------------------------------------------------------------------------

def write_forward_pass_run(path: Path, *, algo_name: str = "grpo", steps: int = 3, prompts: int = 2,
                           group_size: int = 4, max_len: int = 12, seed: int = 0, hostile: bool = False,
                           metrics_only_steps: int = 0, hparams: dict | None = None,
                           header_extra: dict | None = None) -> Path:
    """A run directory whose step files hold unipo.algorithms terms computed on real log-probs.

    The policy is a tiny torch model (embedding + linear head over VOCAB); responses are sampled
    from it, the reward checks whether the response contains the prompt's answer digit. Each
    stored step is one optimizer update. `metrics_only_steps` appends that many further metrics
    lines without step files (a long run's curve without its tokens). `header_extra` is merged
    into run.json's header (e.g. an `evaluation` block).
    """
    import torch

    from unipo.algorithms import get_preset
    from unipo.runs import RunWriter, StepRecord

    torch.manual_seed(seed)
    algo = get_preset(algo_name, **(hparams or {}))
    vocab = len(VOCAB)
    policy = torch.nn.Sequential(torch.nn.Embedding(vocab, 16), torch.nn.Linear(16, vocab))
    reference = torch.nn.Sequential(torch.nn.Embedding(vocab, 16), torch.nn.Linear(16, vocab))
    reference.load_state_dict(policy.state_dict())
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    header = {
        "name": path.name,
        "algorithm": algo.to_dict(),
        "task": {"name": "hostile-digits" if hostile else "digits", "params": {}, "reward": "1 if the answer digit appears"},
        "model": {"name": "tiny-forward-pass", "recipe": "embedding+linear", "parameters": sum(p.numel() for p in policy.parameters())},
        "seed": seed,
        "config": {"steps": steps, "prompts_per_step": prompts, "group_size": group_size},
        **(header_extra or {}),
    }
    n = prompts * group_size
    generator = torch.Generator().manual_seed(seed)
    with RunWriter.create(path, header, exist_ok=True) as writer:
        for step in range(1, steps + 1):
            answers = [int(torch.randint(0, 10, (1,), generator=generator)) for _ in range(prompts)]
            prompt_texts = [f"{HOSTILE} {a}=" if hostile and p == 0 else f"{a} + 0 =" for p, a in enumerate(answers)]
            lengths = torch.randint(2, max_len + 1, (n,), generator=generator)
            mask = (torch.arange(max_len)[None, :] < lengths[:, None]).float()
            tokens = torch.randint(0, vocab, (n, max_len), generator=generator)
            if hostile:
                tokens[0, 0] = vocab - 1  # the hostile string as a token of response 0
            with torch.no_grad():
                old_logits = policy(tokens)
                ref_logits = reference(tokens)
            old_logprobs = torch.log_softmax(old_logits, -1).gather(-1, tokens[..., None])[..., 0]
            ref_logprobs = torch.log_softmax(ref_logits, -1).gather(-1, tokens[..., None])[..., 0]
            group_ids = torch.arange(prompts).repeat_interleave(group_size)
            strings = [[VOCAB[int(t)] for t in row[: int(length)]] for row, length in zip(tokens, lengths)]
            rewards = torch.tensor([float(str(answers[int(g)]) in "".join(s)) for g, s in zip(group_ids, strings)])
            # A small first update so ratios differ from 1 and some tokens clip.
            logits = policy(tokens)
            logprobs = torch.log_softmax(logits, -1).gather(-1, tokens[..., None])[..., 0]
            logprobs = logprobs + 0.3 * torch.randn(logprobs.shape, generator=generator) * (step > 1)
            entropies = -(torch.softmax(logits, -1) * torch.log_softmax(logits, -1)).sum(-1).detach()
            advantages = algo.advantages(rewards, group_ids, mask=mask)
            out = algo.objective(logprobs, old_logprobs, mask, advantages=advantages,
                                 ref_logprobs=ref_logprobs, entropies=entropies,
                                 truncated=lengths == max_len)
            optimizer.zero_grad()
            out.loss.backward()
            optimizer.step()
            record = StepRecord(
                prompt_index=group_ids, group_id=group_ids, prompt_text=[prompt_texts[int(g)] for g in group_ids],
                response_text=["".join(s) for s in strings], reward=rewards, mask=mask, token_ids=tokens,
                tokens=strings, truncated=lengths == max_len, length=lengths,
                logprob=logprobs.detach(), old_logprob=old_logprobs, ref_logprob=ref_logprobs, entropy=entropies,
                terms={k: v.detach() for k, v in out.terms.items()}, rollout=(step - 1) // 2, epoch=0,
                minibatch=(step - 1) % 2,
            )
            metrics = {"rollout": (step - 1) // 2, "epoch": 0, "minibatch": (step - 1) % 2,
                       "loss": float(out.loss.detach()), "reward_mean": float(rewards.mean()),
                       "entropy": float((entropies * mask).sum() / mask.sum()), **out.metrics}
            writer.write_update(step, record, metrics)
        base = float(out.loss.detach())
        for extra in range(steps + 1, steps + 1 + metrics_only_steps):
            writer.append_metrics(extra, {"loss": base + 0.1 * ((extra * 7919) % 13) / 13,
                                          "reward_mean": min(1.0, extra / (steps + metrics_only_steps)),
                                          "entropy": 2.0 - extra / (steps + metrics_only_steps)})
    return path


def train_with_engine(path: Path, algo: str, steps: int = 3) -> Path:
    """`unipo train` with the built-in tiny model, exactly as a user runs it."""
    command = [sys.executable, "-m", "unipo.cli", "train", "--algo", algo, "--out", str(path), "--steps", str(steps),
               "--prompts-per-step", "2", "--group-size", "4", "--max-new-tokens", "8", "--quiet", "--overwrite",
               "--eval-prompts", "0", "--cache-dir", str(REPO / ".unipo-cache")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, f"unipo train failed:\n{done.stderr[-3000:]}"
    assert any((path / "steps").iterdir()), f"unipo train stored no step in {path}"
    return path


@pytest.fixture(scope="session")
def run_writer():
    """write_forward_pass_run, for test modules that need runs of their own (conftest is not importable)."""
    return write_forward_pass_run


@pytest.fixture(scope="session")
def e2e_runs(tmp_path_factory):
    """{'dir', 'primary', 'second', 'hostile', 'source'}: three runs in one folder."""
    root = tmp_path_factory.mktemp("e2e-runs")
    primary = train_with_engine(root / "engine-grpo", "grpo")
    second = train_with_engine(root / "engine-dr-grpo", "dr_grpo")
    source = "engine (unipo train, tiny model)"
    hostile = write_forward_pass_run(root / "hostile-run", algo_name="grpo", steps=2, hostile=True)
    return {"dir": root, "primary": primary, "second": second, "hostile": hostile, "source": source}


# ---------------------------------------------------------------------------------------------
# Live server
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def live_server(e2e_runs):
    from unipo.server import create_app

    with LiveServer(create_app([e2e_runs["dir"]])) as server:
        yield server


# ---------------------------------------------------------------------------------------------
# Browser
# ---------------------------------------------------------------------------------------------

def launch_chromium(playwright):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    """A fresh page that records dialogs (auto-dismissed) and page errors."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
