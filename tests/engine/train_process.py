"""Run a long tiny training in this process (the kill -9 test starts it as a subprocess)."""
import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("engine_helpers", Path(__file__).with_name("engine_helpers.py"))
helpers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(helpers)

if __name__ == "__main__":
    out, resume = sys.argv[1], sys.argv[2] == "resume"
    steps = int(sys.argv[3])
    config = helpers.small_config(steps=steps, epochs=2, minibatches=2, checkpoint_every=3)
    helpers.make_trainer(out, config, resume=resume).run()
