"""Execute notebooks top to bottom and store them the way the series commits them.

    python tools/run_notebooks.py                     # every notebook in notebooks/
    python tools/run_notebooks.py notebooks/07_*.ipynb

For each notebook: run every cell in a fresh kernel (nbconvert's ExecutePreprocessor, widget state
stored), then *finish* it so that it reads well before anyone runs it:

* every widget output gets a static fallback beside the live widget: a tqdm progress bar's final
  line as text, an interactive plot's stored figure as image/png and a line saying what the slider
  does. JupyterLab with a kernel shows the live widget; a viewer without widgets shows the fallback
  instead of ``0%|          | 0/430`` or ``interactive(children=(IntSlider(...``;
* a widget that displays its own static form beside its view (``cnnlib.widgets``' explorer and
  canvas: image/png and a line of text, which nbval compares) keeps it;
* the kernelspec is the one JupyterLab writes, so that opening a notebook does not mark it modified.

``--finish-only`` skips execution (for notebooks just executed another way).
"""

import argparse
import html
import sys
import time
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _models(nb):
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return state.get("state", {})


def _children(models, model_id):
    model = models.get(model_id, {})
    children = model.get("state", {}).get("children", [])
    return [model] + [m for child in children
                      for m in _children(models, child.replace("IPY_MODEL_", ""))]


def _text(value):
    return html.unescape(value).replace("\u2007", " ")


def static_fallback(models, model_id):
    """``{mimetype: value}`` to store beside a widget view: text for a tqdm bar, the stored figure
    and a line of text for an interactive plot; ``{}`` for a widget it does not know."""
    tree = _children(models, model_id)
    kinds = [m.get("model_name") for m in tree]
    if kinds[:1] == ["HBoxModel"] and "FloatProgressModel" in kinds:
        parts = [m["state"] for m in tree[1:]]
        left, right = (_text(p.get("value", "")) for p in (parts[0], parts[-1]))
        bar = next(p for p, m in zip(parts, tree[1:])
                   if m.get("model_name") == "FloatProgressModel")
        done = int(10 * bar.get("value", 0) / (bar.get("max") or 1))
        return {"text/plain": f"{left}|{'█' * done}{' ' * (10 - done)}|{right}"}
    outputs = [o for m in tree if m.get("model_name") == "OutputModel"
               for o in m["state"].get("outputs", [])]
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    sliders = [m["state"] for m in tree if m.get("model_name", "").endswith("SliderModel")]
    if not images:
        return {}
    controls = ", ".join(f"{s.get('description') or 'slider'} "
                         f"{s.get('min', 0)}-{s.get('max')}" for s in sliders)
    return {"image/png": images[0],
            "text/plain": f"An interactive figure ({controls}): run the notebook to use it. "
                          "Stored: the first view."}


def finish(nb):
    """Store static fallbacks beside widget views that have none and JupyterLab's kernelspec; return
    the outputs changed."""
    models, changed = _models(nb), 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "image/png" not in data:
                fallback = static_fallback(models, data[WIDGET_VIEW]["model_id"])
                if fallback and any(data.get(k) != v for k, v in fallback.items()):
                    data.update(fallback)
                    changed += 1
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return changed


def execute(nb, path):
    from nbconvert.preprocessors import ExecutePreprocessor

    ExecutePreprocessor(timeout=1800, kernel_name="python3", store_widget_state=True).preprocess(
        nb, {"metadata": {"path": str(path.parent)}})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--finish-only", action="store_true", help="do not execute, only finish")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(
        (Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb")
    )
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        if not args.finish_only:
            execute(nb, path)
        changed = finish(nb)
        nbformat.write(nb, path)
        print(f"{path}: {time.perf_counter() - started:.0f} s, {changed} widget outputs given a "
              "static form")
    return 0


if __name__ == "__main__":
    sys.exit(main())
