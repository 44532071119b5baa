"""What the committed notebooks show as outputs on the docs pages: no progress bars (tqdm frames, drawn only on a
terminal; tools/strip_progress.py removes old ones) and no absolute paths of the machine that built them."""
import importlib.util, json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("strip_progress", ROOT/"tools"/"strip_progress.py")
strip_progress = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(strip_progress)
BUILD_PATH_RE = re.compile(r"PosixPath\(|(?<![\w.])/(?:tmp|home|root|work|Users|private/var)/[^\s'\"]*")
NOTEBOOKS = sorted((ROOT/"nbs").glob("*.ipynb"))


def output_texts(cell):
    "The text of each output of a cell (streams, text/plain, text/markdown, text/html; not images)."
    for out in cell.get("outputs", []):
        if "text" in out: yield out.get("name", ""), "".join(out["text"])
        for mime in ("text/plain", "text/markdown", "text/html"):
            if mime in out.get("data", {}): yield mime, "".join(out["data"][mime])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_hold_no_progress_bars_or_build_paths(nb):
    cells = json.loads(nb.read_text())["cells"]
    bars = strip_progress.strip_notebook(json.loads(nb.read_text()))
    assert not bars, f"{nb.name}: {bars} progress-bar frames in outputs: run python tools/strip_progress.py"
    found = [f"cell {i} ({c.get('id')}), {kind}: {m[0]}" for i, c in enumerate(cells) for kind, text in output_texts(c)
             for m in BUILD_PATH_RE.finditer(text)]
    assert not found, f"{nb.name}: outputs show paths of the machine that ran them:\n" + "\n".join(found)


def test_strip_progress_keeps_real_lines():
    text = ("\rpretrain:   0%|          | 0/3 [00:00<?, ?it/s]\rpretrain: 100%|##########| 3/3 [00:01<00:00, 2.9it/s]\n"
            "UserWarning: something real\n\rLoading weights:  50%|#####     | 1/2 [00:00<?, ?it/s]\x1b[A\n")
    assert strip_progress.strip_bars(text) == "UserWarning: something real\n"
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stderr", "text": [text]},
                                                      {"output_type": "stream", "name": "stderr", "text": ["\r 10%|#| 1/10 [00:01<00:09]\n"]},
                                                      {"output_type": "stream", "name": "stdout", "text": ["50%|half| 1/2 [x]\n"]}]}]}
    assert strip_progress.strip_notebook(nb) == 4
    assert [o["text"] for o in nb["cells"][0]["outputs"]] == [["UserWarning: something real\n"], ["50%|half| 1/2 [x]\n"]]
    assert BUILD_PATH_RE.search("Path('/tmp/fc_grid5/figures/x.png')") and not BUILD_PATH_RE.search("Path('figures/x.png')")
