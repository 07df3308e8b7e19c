"""Averaging reader weights: hand-worked means, refusals of readers that do not match."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from qa.cli import average_readers


def test_weighted_mean_by_hand():
    a = {"w": torch.tensor([1.0, 2.0], dtype=torch.float16), "ids": torch.tensor([3, 4])}
    b = {"w": torch.tensor([3.0, 6.0], dtype=torch.float16), "ids": torch.tensor([3, 4])}
    equal = average_readers.average([a, b], [1.0, 1.0])
    assert equal["w"].tolist() == [2.0, 4.0] and equal["w"].dtype == torch.float16
    leaning = average_readers.average([a, b], [3.0, 1.0])  # 0.75 * a + 0.25 * b
    assert leaning["w"].tolist() == [1.5, 3.0]
    assert equal["ids"].tolist() == [3, 4]  # integer buffers are copied, not averaged


@pytest.mark.parametrize("other, weights", [
    ({"x": torch.zeros(2)}, [1.0, 1.0]),           # another tensor name
    ({"w": torch.zeros(3)}, [1.0, 1.0]),           # another shape
    ({"w": torch.zeros(2)}, [1.0]),                 # a weight missing
    ({"w": torch.zeros(2)}, [2.0, -1.0]),           # a negative weight
    ({"w": torch.zeros(2)}, [0.0, 0.0]),            # all weights zero
])
def test_mismatched_readers_are_refused(other, weights):
    with pytest.raises(ValueError):
        average_readers.average([{"w": torch.zeros(2)}, other], weights)


def test_cli_writes_a_loadable_folder(tmp_path):
    folders = []
    for i, value in enumerate((1.0, 5.0)):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        save_file({"w": torch.full((2,), value, dtype=torch.float16)}, str(folder / "model.safetensors"))
        for name in average_readers.COPIED:
            (folder / name).write_text(json.dumps({"from": i}))
        folders.append(folder)
    out = tmp_path / "soup"
    assert average_readers.main([str(f) for f in folders] + ["--output-dir", str(out)]) == 0
    assert load_file(str(out / "model.safetensors"))["w"].tolist() == [3.0, 3.0]
    assert json.loads((out / "config.json").read_text()) == {"from": 0}
    record = json.loads((out / "training.json").read_text())
    assert [i["weight"] for i in record["averaged"]] == [0.5, 0.5]
    with pytest.raises(SystemExit):  # writing over an ingredient is refused
        average_readers.main([str(f) for f in folders] + ["--output-dir", str(folders[0])])
    with pytest.raises(SystemExit):  # so is a folder that already holds files (other weights' export, calibration)
        average_readers.main([str(f) for f in folders] + ["--output-dir", str(out)])
