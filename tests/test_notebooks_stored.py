"""The notebooks as committed: executed in order, no errors, code lines of at most 100 characters,
widget outputs with a readable static form, and JupyterLab's kernelspec (so that opening one does
not mark it modified). tools/run_notebooks.py stores them so."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RAW_WIDGET_TEXT = re.compile(r"\|\s*0/\d+ \[|^interactive\(children=|Loading widget")


def _tool():
    spec = importlib.util.spec_from_file_location(
        "run_notebooks", ROOT / "tools" / "run_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebook_reads_well(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert None not in counts and counts == sorted(counts), "run every cell, top to bottom"
    for cell in code:
        long = [line for line in "".join(cell["source"]).splitlines() if len(line) > 100]
        assert not long, f"code lines over 100 characters scroll sideways in JupyterLab: {long}"
        for output in cell["outputs"]:
            assert output["output_type"] != "error", "".join(cell["source"])[:80]
            text = "".join(output.get("data", {}).get("text/plain", ""))
            assert not RAW_WIDGET_TEXT.search(text), f"raw widget text stored: {text[:80]!r}"


def test_finish_gives_widgets_a_static_form():
    tool = _tool()
    state = {
        "bar": {"model_name": "HBoxModel",
                "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_p", "IPY_MODEL_right"]}},
        "left": {"model_name": "HTMLModel", "state": {"value": "epoch\u20071/2:\u2007100%"}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 5.0, "max": 10.0}},
        "right": {"model_name": "HTMLModel",
                  "state": {"value": "\u20075/10\u2007[00:01&lt;00:01,\u2007loss=0.5]"}},
        "box": {"model_name": "VBoxModel",
                "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "IntSliderModel",
                   "state": {"description": "image", "min": 0, "max": 9}},
        "out": {"model_name": "OutputModel",
                "state": {"outputs": [{"data": {"image/png": "iVBOR"}}]}},
    }
    view = "application/vnd.jupyter.widget-view+json"
    nb = tool.nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    cell = tool.nbformat.v4.new_code_cell("")
    cell.outputs = [tool.nbformat.v4.new_output("display_data",
                                                {view: {"model_id": m}, "text/plain": "raw"})
                    for m in ("bar", "box")]
    nb.cells = [cell]
    assert tool.finish(nb) == 2
    bar, box = (output["data"] for output in cell.outputs)
    assert bar["text/plain"] == "epoch 1/2: 100%|█████     | 5/10 [00:01<00:01, loss=0.5]"
    assert box["image/png"] == "iVBOR" and "image 0-9" in box["text/plain"] and view in box
    assert nb.metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)"


def test_finish_keeps_a_widgets_own_static_form():
    # cnnlib.widgets' explorer and canvas display their own figure and line of text beside the view
    # (nbval
    # compares that line); finish must not replace them, even when the widget holds an Output with a
    # figure
    tool = _tool()
    state = {"box": {"model_name": "VBoxModel",
                     "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
             "slider": {"model_name": "IntSliderModel",
                        "state": {"description": "stride", "min": 1, "max": 3}},
             "out": {"model_name": "OutputModel",
                     "state": {"outputs": [{"data": {"image/png": "iVBOR"}}]}}}
    view = "application/vnd.jupyter.widget-view+json"
    nb = tool.nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    cell = tool.nbformat.v4.new_code_cell("")
    own = {view: {"model_id": "box"}, "image/png": "OWN",
           "text/plain": "A convolution explorer ... Stored: ..."}
    cell.outputs = [tool.nbformat.v4.new_output("display_data", dict(own))]
    nb.cells = [cell]
    assert tool.finish(nb) == 0
    assert cell.outputs[0]["data"] == own


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_student_edition_lines_fit(path):
    nb = json.loads(path.read_text())
    long = [line for cell in nb["cells"] if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines() if len(line) > 100]
    assert not long, f"code lines over 100 characters scroll sideways in JupyterLab: {long}"
