"""The README's sample scores file: `examples/scores.csv` is what `examples/make_scores.py` writes, and the CLI reads
it into the forecasts the README's Python example prints."""
import importlib.util, io, contextlib, json
from pathlib import Path

import numpy as np

from predfail.cli import main
from predfail.forecast import fit_gumbel_tail
from predfail.scores import scores_from_logp

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_scores", ROOT/"examples"/"make_scores.py")
make_scores = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_scores)


def test_sample_file_is_what_the_script_writes(tmp_path):
    make_scores.write(tmp_path/"scores.csv")
    assert (ROOT/"examples"/"scores.csv").read_bytes() == (tmp_path/"scores.csv").read_bytes(), \
        "examples/scores.csv is stale: run python examples/make_scores.py"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]   # no temporary left


def test_sample_matches_the_readme_example():
    # the README draws the same 500 values inline: Gumbel(-3, 0.25) scores from default_rng(0), log p = -exp(-psi)
    psi = -3 + 0.25*np.random.default_rng(0).gumbel(size=500)
    np.testing.assert_array_equal(make_scores.sample_logp(), -np.exp(-psi))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["forecast", str(ROOT/"examples"/"scores.csv"), "--n", "1e4", "1e5", "--json"]) == 0
    report = json.loads(out.getvalue())
    assert report["m"] == 500
    fit = fit_gumbel_tail(scores_from_logp(make_scores.sample_logp()), k=10)
    np.testing.assert_allclose([f["p"] for f in report["forecasts"]], [fit.forecast_p(1e4), fit.forecast_p(1e5)], rtol=1e-12)
    readme = (ROOT/"README.md").read_text()
    for text in ("## Bring your own scores", "examples/scores.csv", "scores_from_logp", "--out - \\\n  | predfail forecast - --kind logp"):
        assert text in readme, f"README lacks {text!r}"
