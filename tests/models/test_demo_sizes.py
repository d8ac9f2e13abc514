"""`unipo demo --model smollm2`: the demo's sizes shrink to what a 135M model trains in minutes on
2 cores, but only where the user kept the tiny demo's defaults; `--model smollm2` passes the flag check."""
import argparse

from unipo.commands.demo import DEMO_ALGORITHMS, demo_defaults, register
from unipo.engine.model_source import MODEL_DEMO_SIZES, apply_demo_sizes


def parse(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["demo", *argv])


def test_smollm2_demo_gets_small_sizes_except_what_was_given():
    args = parse("--model", "smollm2", "--steps", "7")
    changed = apply_demo_sizes(args, demo_defaults(), ",".join(DEMO_ALGORITHMS))
    assert args.steps == 7 and not any(c.startswith("steps=") for c in changed)
    sizes = MODEL_DEMO_SIZES["smollm2"]
    assert (args.task, args.prompts_per_step, args.group_size, args.algos, args.lr) == \
        (sizes["task"], sizes["prompts_per_step"], sizes["group_size"], sizes["algos"], sizes["lr"])


def test_the_tiny_demo_is_unchanged():
    args = parse()
    assert apply_demo_sizes(args, demo_defaults(), ",".join(DEMO_ALGORITHMS)) == []
    assert args.steps == demo_defaults().steps


def test_smollm2_is_an_accepted_model_name():
    from unipo.commands.train import config_from_args
    args = parse("--model", "smollm2")
    apply_demo_sizes(args, demo_defaults(), ",".join(DEMO_ALGORITHMS))
    config = config_from_args(argparse.Namespace(**{**vars(args), "lr": args.lr}), "grpo")
    assert config.model == "smollm2" and config.task == "word_problems"
