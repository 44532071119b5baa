"`predfail forecast --from-inspect`: per-sample scores of an Inspect log (written offline on Inspect's mock model)."
import json

import pytest

from predfail.cli import main

pytest.importorskip("inspect_ai", reason="the `inspect` extra is not installed: pip install 'predfail[inspect]'")


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


PLANTED = {f"s{i}": round(0.5 * 0.8 ** i, 6) for i in range(30)}


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    from predfail.inspect_logs import write_mock_log
    return write_mock_log(tmp_path_factory.mktemp("inspect"), PLANTED, epochs=4, seed=1)


def test_forecast_from_inspect_equals_forecast_from_a_file(capsys, tmp_path, log_path):
    from predfail.inspect_logs import inspect_scores
    order = inspect_scores(log_path, "leak_prob").id
    csv = tmp_path/"p.csv"
    csv.write_text("p\n" + "".join(f"{PLANTED[i]!r}\n" for i in order))
    _, a, err_a = run(capsys, "forecast", "--from-inspect", log_path, "--score-name", "leak_prob", "--n", "1000", "--k", "5", "--json")
    _, b, err_b = run(capsys, "forecast", csv, "--n", "1000", "--k", "5", "--json")
    a, b = json.loads(a), json.loads(b)
    assert (a["kind"], a["column"], a["rows"]) == ("p", "leak_prob", 30)
    drop = ("file", "column", "kind", "header", "first_line")   # a file reports its header and first value's line; a log has none
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


def test_binary_scores_over_epochs_are_counts(capsys, log_path):
    from predfail.inspect_logs import inspect_scores
    t = inspect_scores(log_path, "includes")
    status, out, err = run(capsys, "forecast", "--from-inspect", log_path, "--score-name", "includes", "--n", "1000", "--k", "3", "--json")
    if (t.failures == t.trials).any():   # a sample flagged in every epoch is p = 1: refused with a clear message
        assert status == 2 and "failed in every epoch" in err
    else:
        r = json.loads(out)
        assert status == 0 and r["kind"] == "counts" and r["m"] == 30 and r["n_excluded"] == int((t.failures == 0).sum()), err
    assert (t.trials == 4).all() and t.failures.sum() > 0


@pytest.mark.parametrize("argv, message", [
    (["forecast", "--n", "100"], "give either FILE or --from-inspect LOG"),
    (["forecast", "x.csv", "--from-inspect", "LOG", "--n", "100"], "give either FILE or --from-inspect LOG"),
    (["forecast", "--from-inspect", "LOG", "--n", "100"], "the log has scores ['includes', 'leak_prob']; name one"),
    (["forecast", "--from-inspect", "LOG", "--score-name", "accuracy", "--n", "100"], "has no score 'accuracy'"),
    (["forecast", "--from-inspect", "LOG", "--score-name", "leak_prob", "--kind", "logp", "--n", "100"], "reads counts or p"),
    (["forecast", "--from-inspect", "missing.eval", "--n", "100"], "Inspect log not found"),
])
def test_from_inspect_bad_input(capsys, log_path, argv, message):
    status, out, err = run(capsys, *[str(log_path) if a == "LOG" else a for a in argv])
    assert status == 2 and out == "" and message in err and err.count("\n") == 1, err
