"""The committed chapter notebooks (reference-cut outputs, see analysis_lib.pipeline.reference_outputs):
their shape, and that they show every TLF of the catalogue exactly once."""

import json
import re
from pathlib import Path

import pytest

from analysis_lib.pipeline import runner as pipeline
from analysis_lib.trial import catalogue as study_catalogue

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = pipeline.chapter_notebooks(ROOT)


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_has_a_papermill_parameters_cell_with_the_cut_and_output_dir(path):
    cells = _nb(path)["cells"]
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1, f"{path.name}: one cell tagged 'parameters'"
    assert "".join(params[0]["source"]).split() == ["cut", "=", '"final"', "output_dir", "=", "None"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_outputs_are_clean(path):
    """No errors, warnings, tracebacks, nan/None cells, or a TLF shown twice (as a cell's value)."""
    for i, cell in enumerate(c for c in _nb(path)["cells"] if c["cell_type"] == "code"):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} code cell {i}: error output"
            assert out["output_type"] != "stream" or out["name"] != "stderr", f"{path.name} code cell {i}: stderr"
            if out["output_type"] == "execute_result":
                assert "csr-tlf" not in json.dumps(out["data"]), f"{path.name} code cell {i}: TLF shown twice"
            text = json.dumps(out.get("data", {})) + "".join(out.get("text", ""))
            assert not re.search(r">\s*(nan|NaN|None)\s*<", text), f"{path.name} code cell {i}: nan/None cell"


def test_every_catalogue_tlf_is_shown_once_in_its_chapter():
    shown: dict[str, list[str]] = {}
    for path in NOTEBOOKS:
        for cell in _nb(path)["cells"]:
            for out in cell.get("outputs", []):
                html = "".join(out.get("data", {}).get("text/html", ""))
                for number in re.findall(r'class="csr-tlf-number">([^<]+)<', html):
                    shown.setdefault(number.strip(), []).append(path.stem)
    for entry in study_catalogue.load().values():
        assert shown.get(entry.number) == [entry.chapter], (
            f"{entry.number} ({entry.id}): shown in {shown.get(entry.number)}"
        )
