"""The fresh-copy check of `make test`: judged against the committed quick tables only between equal numerics."""
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checker(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("check_quick_reference", ROOT/"tools"/"check_quick_reference.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    ref = tmp_path/"reference"; ref.mkdir()
    monkeypatch.setattr(module, "REFERENCE", ref); monkeypatch.setattr(module, "NUMERICS", ref/"numerics.json")
    table = pd.DataFrame({"arm": ["base", "forecast"], "mean_p": [1e-3, 2e-4], "mean_p_lo": [8e-4, 1e-4], "mean_p_hi": [1.2e-3, 3e-4],
                          "train_seconds": [1.0, 2.0], "train_seconds_lo": [0.5, 1.0], "train_seconds_hi": [1.5, 3.0]})
    table.to_csv(ref/"demo_results_quick.csv", index=False)
    fresh = tmp_path/"fresh"; fresh.mkdir()
    return module, table, fresh


def write_numerics(module, fingerprint): module.NUMERICS.write_text(json.dumps({"fingerprint": fingerprint, "cpu": "test"}))


def test_equal_numerics_judge_the_comparison(checker, capsys):
    module, table, fresh = checker
    write_numerics(module, module.numerics_fingerprint())
    table.assign(train_seconds=[99.0, 99.0]).to_csv(fresh/"demo_results_quick.csv", index=False)  # timings are not compared
    assert module.check(fresh) == 0
    table.assign(mean_p=[1e-3, 9e-4]).to_csv(fresh/"demo_results_quick.csv", index=False)        # forecast arm far outside
    assert module.check(fresh) == 1
    assert "equal, so the comparison is judged" in capsys.readouterr().out


def test_other_numerics_show_but_do_not_judge(checker, capsys):
    module, table, fresh = checker
    write_numerics(module, "0" * 16)
    table.assign(mean_p=[1e-3, 9e-4]).to_csv(fresh/"demo_results_quick.csv", index=False)
    assert module.check(fresh) == 0
    out = capsys.readouterr().out
    assert "shown, not judged" in out and "1 value(s) outside" in out


def test_a_missing_table_or_numerics_file_always_fails(checker):
    module, table, fresh = checker
    assert module.check(fresh) == 1                     # no numerics.json
    write_numerics(module, "0" * 16)
    assert module.check(fresh) == 1                     # no fresh table, whatever the numerics
