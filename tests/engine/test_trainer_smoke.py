from engine_helpers import make_trainer, small_config
from unipo.runs import RunReader


def test_two_updates_store_every_token(tmp_path):
    result = make_trainer(tmp_path / "run", small_config()).run()
    reader = RunReader(tmp_path / "run")
    assert reader.steps() == [1, 2]
    assert reader.header["status"] == "finished"
    table = reader.step(1)
    print(table.column_names)
    assert result.steps == 2
