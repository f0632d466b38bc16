"""The package's import structure, read from the source with ``ast`` (every import, function-local
ones included): no import cycle, and no module reaching for another module's private (``_name``)
names."""

import ast
from pathlib import Path

import cnnlib

PACKAGE = Path(cnnlib.__file__).parent

def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module, node):
    """The absolute module name a ``from ... import`` in ``module`` refers to."""
    if node.level == 0:
        return node.module
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _imports(module):
    """``(imported module, names imported from it, {local alias: module})`` of every import in
    ``module``; a name that is itself a module (``from . import conv``) counts as that module."""
    tree = ast.parse(MODULES[module].read_text())
    edges, names, aliases = set(), [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    edges.add(alias.name)
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:
                    edges.add(submodule)
                    aliases[alias.asname or alias.name] = submodule
                elif source in MODULES:
                    edges.add(source)
                    names.append((source, alias.name))
    return edges, names, aliases, tree


def _cycle(graph):
    """One import cycle in ``graph`` (``{module: set of modules}``) as a list of modules, or
    None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                return path[path.index(child):] + [child]
            if child not in state:
                found = visit(child, path + [child])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_import_graph_is_read_from_every_module():
    graph = {module: _imports(module)[0] for module in MODULES}
    assert {"cnnlib.training", "cnnlib.models", "cnnlib.tuned", "cnnlib.checkpoints"} <= set(graph)
    assert (
        "cnnlib.tuned" in graph["cnnlib.models"]
        and "cnnlib.checkpoints" in graph["cnnlib.training"]
    )
    assert "cnnlib.conv" in graph["cnnlib.tuned.conv"]    # a relative import two levels up
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    graph = {module: _imports(module)[0] for module in MODULES}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_layers_below_the_model_do_not_import_the_training_loop():
    graph = {module: _imports(module)[0] for module in MODULES}
    assert "cnnlib.training" not in graph["cnnlib.models"]
    assert not any(imported == "cnnlib.models" for module in MODULES
                   if module.startswith("cnnlib.tuned")
                   for imported in graph[module])


def _private_uses(module):
    """``module.name`` strings of the private names ``module`` takes from other cnnlib modules."""
    _, names, aliases, tree = _imports(module)
    uses = [f"{source}.{name}" for source, name in names
            if name.startswith("_") and source != module]
    uses += [f"{aliases[node.value.id]}.{node.attr}" for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
             and node.value.id in aliases and node.attr.startswith("_")
             and not node.attr.startswith("__")]
    return uses


def test_no_module_uses_another_modules_private_names():
    uses = {module: _private_uses(module) for module in MODULES}
    assert {module: found for module, found in uses.items() if found} == {}


def test_the_private_name_check_finds_a_use(tmp_path, monkeypatch):
    module = tmp_path / "cnnlib" / "probe.py"
    module.parent.mkdir()
    module.write_text("from . import pool\nfrom .conv import _hidden\n\ndef f(w):\n    return "
                      "pool._first_max(w)\n")
    monkeypatch.setitem(MODULES, "cnnlib.probe", module)
    monkeypatch.setitem(MODULES, "cnnlib.pool", PACKAGE / "pool.py")
    assert sorted(_private_uses("cnnlib.probe")) == [
        "cnnlib.conv._hidden",
        "cnnlib.pool._first_max",
    ]
