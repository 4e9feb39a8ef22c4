"""The import contract of ``billing`` (README, "Architecture"), read from the source with ``ast``
(imports inside functions count: a deferred import is still a dependency).

- Layers only import downwards: ``rating`` <- base modules (models, money, calendar...) <-
  ``selectors`` <- ``services`` <- ``api``, ``admin``, ``tasks``, commands, the PDF, the demo.
- No import cycle inside ``billing``.
- No module imports a name starting with ``_`` from another module of this project.
- ``billing.rating`` is pure: it imports nothing of Django and nothing of billing but itself
  and ``billing.money`` (Decimal rounding, itself pure).

``contract_violations`` is called on the real tree and, in the tests at the bottom, on a tree
with one bad import added, to show that each rule can fail."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("billing", "accounts", "portal")

# Layer of each module prefix (the longest matching prefix wins). A module that matches none
# fails the contract: a new top-level module has to be placed in a layer here.
LAYERS: dict[str, int] = {
    "billing.rating": 0,
    "billing.money": 0,  # pure Decimal arithmetic: the rules round with it
    "billing.models": 1,
    "billing.calendar": 1,
    "billing.catalog": 1,
    "billing.errors": 1,
    "billing.audit": 1,
    "billing.locks": 1,
    "billing.lookups": 1,
    "billing.line_order": 1,
    "billing.display": 1,
    "billing.parsing": 1,  # the strict parsers (issue 13): imports nothing of billing
    "billing.form_fields": 1,  # Django form fields over billing.parsing
    "billing.apps": 1,
    "billing.migrations": 1,
    "billing": 1,  # the package itself
    "billing.selectors": 2,
    "billing.services": 3,
    "billing.api": 4,
    "billing.admin": 4,
    "billing.tasks": 4,
    "billing.management": 4,
    "billing.pdf": 4,
    "billing.demo": 4,
}
LAYER_NAMES = {0: "rating", 1: "base", 2: "selectors", 3: "services", 4: "interfaces"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, layer)
    return best[1] if best else None


def read_sources(root: Path = ROOT) -> dict[str, str]:
    """Module name -> source of every module of the billing package."""
    return {
        module_name(path, root): path.read_text()
        for path in sorted((root / "billing").rglob("*.py"))
        if ".venv" not in path.parts
    }


def imports_of(module: str, source: str, modules: set[str]) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import of ``module``."""
    is_package = f"{module}.__init__" in modules or any(m.startswith(module + ".") for m in modules)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:  # ``from billing.admin import invoices``
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((base, alias.name, node.lineno))
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing
    itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def contract_violations(sources: dict[str, str]) -> list[str]:
    modules = set(sources)
    graph: dict[str, set[str]] = {module: set() for module in modules}
    problems = []
    for module, source in sorted(sources.items()):
        layer = layer_of(module)
        if layer is None:
            problems.append(
                f"{module}: in no layer of the contract (tests/test_import_contract.py)"
            )
            continue
        for target, name, line in imports_of(module, source, modules):
            top = target.split(".")[0]
            where = f"{module}:{line} imports {target}" + (f".{name}" if name else "")
            if name.startswith("_") and top in PROJECT_PACKAGES and target != module:
                problems.append(f"{where}: a private name imported from another module")
            if layer == 0 and (
                top in ("django", "rest_framework", "celery")
                or (top == "billing" and layer_of(target) != 0)
            ):
                problems.append(f"{where}: billing.rating is pure (no Django, no billing)")
            if target in modules and target != module:
                graph[module].add(target)
                target_layer = layer_of(target)
                if target_layer is not None and target_layer > layer:
                    problems.append(
                        f"{where}: {LAYER_NAMES[layer]} may not import {LAYER_NAMES[target_layer]}"
                    )
    for cycle in _cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle))
    return problems


def test_billing_keeps_the_import_contract():
    assert contract_violations(read_sources()) == []


# --- Each rule can fail: the real tree with one bad import added ----------------------------


def _with_line(module: str, line: str) -> dict[str, str]:
    sources = read_sources()
    sources[module] = sources[module] + "\n" + line + "\n"
    return sources


def test_a_selector_importing_a_service_breaks_the_contract():
    sources = _with_line(
        "billing.selectors.invoices", "from billing.services.invoicing import invoices_refresh"
    )
    problems = contract_violations(sources)
    assert any("selectors may not import services" in p for p in problems), problems


def test_an_import_cycle_breaks_the_contract():
    # invoicing -> closing -> invoicing; inside a function, as the old cycle was.
    sources = _with_line(
        "billing.services.invoicing",
        "def f():\n    from billing.services.closing import invoice_finalize",
    )
    problems = contract_violations(sources)
    assert any(p.startswith("import cycle:") and "billing.services.closing" in p for p in problems)


def test_a_private_name_imported_across_modules_breaks_the_contract():
    sources = _with_line("billing.services.finance", "from billing.services.rating import _x")
    problems = contract_violations(sources)
    assert any("a private name imported from another module" in p for p in problems), problems


def test_django_in_the_rating_rules_breaks_the_contract():
    sources = _with_line("billing.rating.trtc", "from django.db import models")
    problems = contract_violations(sources)
    assert any("billing.rating is pure" in p for p in problems), problems
