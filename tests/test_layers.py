"""The package's import graph: every import points down the layers and there are no cycles.

The layers follow ``DESIGN.md`` ("Architecture for many groups ..."). Each module of
``lcsem`` is parsed with :mod:`ast`; imports at module level *and* inside functions count,
because an import hidden in a function is still a dependency (it only hides a cycle).
Imports of third-party packages are not checked here (lazy imports of matplotlib, semopy,
joblib, dask or tqdm keep ``import lcsem`` light and are fine).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lcsem"

#: Layer of each part of the package, lowest first. A module may import modules of its own
#: layer or of lower layers, never of a higher one. The most specific prefix wins.
LAYERS: dict[str, int] = {
    "lcsem.exceptions": 0, "lcsem._validation": 0, "lcsem._warnings": 0, "lcsem._version": 0,
    "lcsem._random": 0, "lcsem._lazy": 0, "lcsem._threads": 0,
    "lcsem.display": 0,
    "lcsem.spec": 1,
    "lcsem.data": 2, "lcsem.datasets": 2,
    "lcsem.engine": 3,
    "lcsem.inference": 4,
    "lcsem.results": 5,
    "lcsem.estimation": 6,
    "lcsem.resampling": 7,
    "lcsem.analysis": 8, "lcsem.simulation": 8,
    "lcsem.reporting": 9, "lcsem.plot": 9,
    "lcsem.cli": 10, "lcsem.demo": 10, "lcsem": 10,
    # a maintainer's script that regenerates the bundled survey with lcsem.simulate
    "lcsem.datasets.make_lc_survey": 10,
}

#: (importer, imported) pairs allowed against the rules, each with its reason. They are
#: imports inside one convenience method of a result class that hands the result to the
#: function that renders or analyses it; that function depends on the result, the class
#: does not otherwise depend on it. They are left out of the cycle check too.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("lcsem.results.fit_result", "lcsem.reporting.document"):
        "FitResult.report() is lcsem.report(res)",
    ("lcsem.results.fit_result", "lcsem.analysis.modindices"):
        "FitResult.modindices() is lcsem.modification_indices(res)",
    ("lcsem.results.fit_result", "lcsem.analysis.score_tests"):
        "FitResult.score_tests() is lcsem.analysis.score_tests.score_tests(res)",
    ("lcsem.simulation.power_analysis", "lcsem.simulation.plot"):
        "PowerResult.plot() is lcsem.plot_power(result) (matplotlib only when called)",
    ("lcsem.simulation.dynamic", "lcsem.simulation.plot"):
        "DynamicCutoffs.plot() is lcsem.plot_dynamic_cutoffs(result) (matplotlib only when called)",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(root.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The lcsem module an imported name lives in (``lcsem.x.y`` or its package)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def lcsem_imports(modules: dict[str, Path]) -> list[tuple[str, str, int, bool]]:
    """(importer, imported module, line, inside a function) for every import of lcsem."""
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                           ast.Lambda))
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = package.split(".")[: len(package.split(".")) - child.level + 1]
                        origin = ".".join(base + ([child.module] if child.module else []))
                    else:
                        origin = child.module or ""
                    # ``from . import x`` may name a submodule: then x is the target
                    targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules
                               else origin for alias in child.names]
                for target in targets:
                    if target == "lcsem" or target.startswith("lcsem."):
                        found.append((name, _resolve(target, modules), child.lineno, in_function))
                visit(child, nested)

        visit(tree, False)
    return found


def layer_of(module: str) -> int:
    """The layer of a module: its own entry or its nearest package's (``lcsem`` itself
    only for the package's ``__init__``, so a new top-level module must be placed)."""
    key = module
    while key not in LAYERS or (key == "lcsem" and module != "lcsem"):
        if "." not in key:
            raise KeyError(f"{module} has no layer: add it to LAYERS (and to DESIGN.md)")
        key = key.rsplit(".", 1)[0]
    return LAYERS[key]


def upward_imports(modules: dict[str, Path]) -> list[str]:
    problems = []
    for importer, imported, line, in_function in lcsem_imports(modules):
        if imported == importer or (importer, imported) in ALLOWED_UPWARD:
            continue
        if layer_of(imported) > layer_of(importer):
            where = "inside a function" if in_function else "at module level"
            problems.append(f"{importer} (layer {layer_of(importer)}) imports {imported} "
                            f"(layer {layer_of(imported)}) {where}, line {line}")
    return problems


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for importer, imported, _line, _fn in lcsem_imports(modules):
        if imported != importer and (importer, imported) not in ALLOWED_UPWARD:
            # a package's __init__ importing its own submodules is how packages re-export;
            # a submodule importing through its package is not a cycle of code either
            if imported.startswith(importer + ".") or importer.startswith(imported + "."):
                continue
            graph[importer].add(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return components


def test_every_lcsem_import_names_a_module():
    """A relative import left pointing at an old location (``from .simulation.sampling``
    inside ``lcsem/analysis/``) names no module and would only fail when called."""
    modules = _modules()
    missing = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("lcsem")):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module
                if origin not in modules:
                    missing.append(f"{name} line {node.lineno}: {origin}")
            elif isinstance(node, ast.Import):
                missing += [f"{name} line {node.lineno}: {a.name}" for a in node.names
                            if a.name.startswith("lcsem") and a.name not in modules]
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


def test_every_module_has_a_layer():
    for name in _modules():
        layer_of(name)


def test_imports_point_down_the_layers():
    problems = upward_imports(_modules())
    assert not problems, "imports pointing up the layers:\n" + "\n".join(problems)


def test_no_import_cycles():
    cycles = import_cycles(_modules())
    assert not cycles, "import cycles among lcsem modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_allow_list_entries_are_still_needed():
    imports = {(a, b) for a, b, _line, _fn in lcsem_imports(_modules())}
    stale = [pair for pair in ALLOWED_UPWARD if pair not in imports]
    assert not stale, f"remove stale ALLOWED_UPWARD entries: {stale}"


def test_checker_catches_an_upward_import_and_a_cycle(tmp_path):
    """The checks themselves can fail: a toy package with one upward import forming a cycle."""
    pkg = tmp_path / "lcsem"
    (pkg / "spec").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "spec" / "__init__.py").write_text("")
    (pkg / "exceptions.py").write_text("")
    (pkg / "spec" / "model.py").write_text("from ..exceptions import x\n")
    (pkg / "spec" / "syntax.py").write_text("def f():\n    from ..results import y\n")
    (pkg / "results.py").write_text("from .spec.syntax import f\n")
    modules = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = list(path.relative_to(tmp_path).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    problems = upward_imports(modules)
    assert len(problems) == 1 and "lcsem.spec.syntax" in problems[0] and "inside a function" in problems[0]
    assert import_cycles(modules) == [["lcsem.results", "lcsem.spec.syntax"]]


@pytest.mark.parametrize("name", ["fit", "bootstrap", "report", "effects", "measurement", "simulate", "compare"])
def test_public_functions_do_not_share_a_module_name(name):
    """``lcsem.<name>`` stays the function even after every submodule has been imported."""
    import importlib

    import lcsem

    for module in _modules():
        if module != "lcsem.datasets.make_lc_survey" and not module.startswith(("lcsem.plot",)):
            importlib.import_module(module)
    assert callable(getattr(lcsem, name)) and not hasattr(getattr(lcsem, name), "__path__")
    assert f"lcsem.{name}" not in _modules()
    # a leftover folder (say lcsem/bootstrap/ holding only __pycache__ after the move to
    # lcsem/resampling/) would be imported as a namespace package over the function
    assert not (PACKAGE / name).is_dir(), f"delete the stale folder {PACKAGE / name}"


# ---------------------------------------------------------------------- the engine's surface
#: Modules of the engine whose names code outside ``lcsem/engine`` may not import: the RAM
#: representation (matrix entries, their maps to the parameter vector, the rank-two
#: derivative vectors). Outside code asks the engine's accessors (``lcsem.engine``:
#: implied moments, standardised values, parameter-table views, Jacobians).
ENGINE_INTERNAL_MODULES = ("lcsem.engine.ram",)
#: Names of the RAM layout that outside code may not import from anywhere ...
ENGINE_INTERNAL_NAMES = frozenset({"Entries", "make_entries", "gram_terms", "gradient_terms"})
#: ... and attributes of a structure it may not read (``struct.matrices(theta)``, ...).
ENGINE_INTERNAL_ATTRIBUTES = frozenset({"matrices", "row_entries", "free_entries", "free_map",
                                        "jacobian_vectors", "plans", "row_is_mean", "mean_jacobian"})


def engine_internals_used(modules: dict[str, Path]) -> list[str]:
    """Every place outside ``lcsem.engine`` that imports the RAM module or its internal
    names, or reads an internal attribute of a structure."""
    problems = []
    for importer, imported, line, _fn in lcsem_imports(modules):
        if not importer.startswith("lcsem.engine") and imported in ENGINE_INTERNAL_MODULES:
            problems.append(f"{importer} imports {imported} (line {line})")
    for name, path in modules.items():
        if name == "lcsem.engine" or name.startswith("lcsem.engine."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                bad = sorted(a.name for a in node.names if a.name in ENGINE_INTERNAL_NAMES)
                if bad:
                    problems.append(f"{name} imports {', '.join(bad)} (line {node.lineno})")
            elif isinstance(node, ast.Attribute) and node.attr in ENGINE_INTERNAL_ATTRIBUTES:
                problems.append(f"{name} reads .{node.attr} (line {node.lineno})")
    return list(dict.fromkeys(problems))


def test_code_outside_the_engine_uses_its_accessors_not_ram_internals():
    problems = engine_internals_used(_modules())
    assert not problems, ("RAM internals used outside lcsem/engine (use the accessors of "
                          "lcsem.engine: model_matrices, implied_all, residual_blocks, "
                          "standardized_values, free_variance_rows, moment_jacobian, ...):\n"
                          + "\n".join(problems))


def test_engine_surface_check_catches_internals(tmp_path):
    """The check itself can fail: a toy analysis module reaching into the RAM layout."""
    pkg = tmp_path / "lcsem"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "analysis").mkdir()
    for init in (pkg / "__init__.py", pkg / "engine" / "__init__.py", pkg / "analysis" / "__init__.py"):
        init.write_text("")
    (pkg / "engine" / "ram.py").write_text("def gram_terms():\n    pass\n")
    (pkg / "engine" / "views.py").write_text("from .ram import gram_terms\ndef f(s):\n    return s.matrices(1)\n")
    (pkg / "analysis" / "a.py").write_text("from ..engine.ram import gram_terms\n")
    (pkg / "analysis" / "b.py").write_text("def f(struct):\n    return struct.row_entries\n")
    (pkg / "analysis" / "c.py").write_text("from ..engine import model_matrices\n")
    modules = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = list(path.relative_to(tmp_path).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    problems = engine_internals_used(modules)
    assert any("lcsem.analysis.a imports lcsem.engine.ram" in p for p in problems)
    assert any("lcsem.analysis.a imports gram_terms" in p for p in problems)
    assert any("lcsem.analysis.b reads .row_entries" in p for p in problems)
    assert not any("lcsem.engine" in p.split()[0] or "analysis.c" in p for p in problems)
