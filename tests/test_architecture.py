"""The layers, checked on the source: cheap, stable, and failing the moment a boundary is crossed.

- Templates only display: no template calls a global that fetches data.
- The domain (webapp/domain) is pure: no Flask, no SQLAlchemy, no model, no extension.
- Models import no feature package.
- Services read neither the request nor the signed-in user, and never answer HTTP themselves.
- No module reaches into another package's private functions or another blueprint's routes
  (views may use another feature's public view-model builders); a service or a view-model
  builder imports no view module at all (a feature's views: routes.py, or a routes/ package).
- No import cycle, counting imports inside functions.

See docs/architecture.md for the picture.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2 import nodes

ROOT = Path(__file__).resolve().parents[1]
WEBAPP = ROOT / "webapp"
TEMPLATES = WEBAPP / "templates"


def _py(pattern: str) -> list[Path]:
    return sorted(p for p in WEBAPP.glob(pattern) if "dist" not in p.parts)


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """Every import in a module, at any depth: (module, imported name or None, line)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.module, a.name, node.lineno) for a in node.names]
    return out


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---- templates only display -------------------------------------------------------------------

# What a template may call: formatting and markup helpers that read no database.
PURE_GLOBALS = {"icon", "url_for", "csrf_token", "csrf_meta_tag", "csp_nonce", "area_label", "mx_product",
                "new_client_id", "get_flashed_messages", "range", "dict", "lipsum", "cycler", "joiner", "namespace"}
# The globals that fetched a card's data from inside a template, before views passed it.
DATA_GLOBALS = {"needling_countdown", "needling_gap_rows", "health_profile_values", "minoxidil_card",
                "minoxidil_settings", "latest_photo_card", "data_summary"}


def _templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in {".html", ".txt", ".js"})


def _called_names(app, path: Path) -> set[str]:
    """Names a template calls as functions, minus its own macros and imported macros."""
    tree = app.jinja_env.parse(path.read_text())
    own = {m.name for m in tree.find_all(nodes.Macro)}
    for imp in tree.find_all(nodes.FromImport):
        own |= {n if isinstance(n, str) else n[1] for n in imp.names}
    own |= {"caller", "super", "varargs", "kwargs", "loop"}
    return {c.node.name for c in tree.find_all(nodes.Call) if isinstance(c.node, nodes.Name)} - own


def test_no_template_calls_a_data_fetching_global(app):
    called = {_rel(p): _called_names(app, p) for p in _templates()}
    assert sum(map(len, called.values())) > 50  # the walk reads the templates' calls
    impure = {path: sorted(names - PURE_GLOBALS) for path, names in called.items() if names - PURE_GLOBALS}
    assert not impure, f"templates call globals that are not display helpers (pass the data from the view): {impure}"


def test_only_display_helpers_are_registered_as_globals(app):
    registered = set(app.jinja_env.globals) - {"config", "request", "session", "g"}
    constants = {k for k, v in app.jinja_env.globals.items() if not callable(v)}
    assert not DATA_GLOBALS & registered
    assert registered - constants <= PURE_GLOBALS, sorted(registered - constants - PURE_GLOBALS)


def test_filters_and_globals_are_registered_in_one_module():
    offenders = []
    for path in _py("**/*.py"):
        if path.name == "templating.py":
            continue
        text = path.read_text()
        for marker in ("template_filter", "template_global", "add_template_filter", "context_processor",
                       "jinja_env.globals", "jinja_env.filters"):
            if marker in text:
                offenders.append((_rel(path), marker))
    assert not offenders, offenders


# ---- the domain is pure -----------------------------------------------------------------------

IMPURE_TOPS = {"flask", "flask_login", "flask_sqlalchemy", "flask_wtf", "sqlalchemy", "werkzeug", "marshmallow",
               "jinja2"}


@pytest.mark.parametrize("path", _py("domain/*.py"), ids=_rel)
def test_the_domain_imports_nothing_of_flask_the_database_or_models(path):
    bad = [(m, line) for m, _, line in _imports(path)
           if m.split(".")[0] in IMPURE_TOPS or (m.startswith("webapp") and not m.startswith("webapp.domain"))]
    assert not bad, f"{_rel(path)} imports {bad}: the domain takes data and now as arguments"


def test_the_domain_holds_the_rules():
    assert {p.name for p in _py("domain/*.py")} >= {"rules.py", "doses.py", "vocabulary.py"}


# ---- models import no feature -----------------------------------------------------------------

MODEL_MAY_IMPORT = ("webapp.models", "webapp.extensions", "webapp.clock", "webapp.domain")


@pytest.mark.parametrize("path", _py("models/*.py"), ids=_rel)
def test_models_import_no_feature_package(path):
    bad = [(m, line) for m, _, line in _imports(path)
           if m.startswith("webapp") and not m.startswith(MODEL_MAY_IMPORT)]
    assert not bad, f"{_rel(path)} imports {bad}"


# ---- services do not speak HTTP ---------------------------------------------------------------

def _services() -> list[Path]:
    """Services, and the view-model builders next to them (cards.py): both take (user, now)."""
    named = [p for p in _py("**/*.py") if p.name in {"service.py", "cards.py"} or p.name.endswith("_service.py")]
    return named + [WEBAPP / path for path in ALSO_SERVICES]


# Services named for what they do rather than "service.py".
ALSO_SERVICES = ("photos/lineup.py", "auth/devices.py", "auth/passkeys.py", "minoxidil/subscriptions.py")


def _http_in(path: Path) -> set[str]:
    found = set()
    for module, name, _ in _imports(path):
        if module == "flask" and name in {"request", "abort", "session", "g"}:
            found.add(f"flask.{name}")
        if module == "flask_login" and name == "current_user":
            found.add("current_user")
        if module == "werkzeug.exceptions" and name == "abort":
            found.add("abort")
        if name == "MAX_ID":  # checking ids by hand: webapp.models.owned does it
            found.add("MAX_ID")
    return found


def test_services_read_no_request_no_signed_in_user_and_answer_no_http():
    found = {_rel(p): _http_in(p) for p in _services()}
    assert len(found) >= 8  # sessions, photos, minoxidil, dataio, auth... and the cards
    assert {"webapp/sessions/cards.py", "webapp/photos/cards.py", "webapp/dataio/cards.py"} <= set(found)
    offenders = {path: names for path, names in found.items() if names}
    assert offenders == {}, (
        "a service takes the user and now as arguments and returns data or an outcome; the view "
        f"maps 'not found' to 404. Found: {offenders}")


# ---- one way to load a row by id for its owner ------------------------------------------------

def _compared(call: ast.Call) -> set[tuple[str, str]]:
    """(name, attribute) pairs a call's arguments test for equality: ``Photo.id == x`` -> ("Photo", "id")."""
    out = set()
    for arg in call.args:
        if isinstance(arg, ast.Compare) and isinstance(arg.ops[0], ast.Eq):
            for side in (arg.left, *arg.comparators):
                if isinstance(side, ast.Attribute) and isinstance(side.value, ast.Name):
                    out.add((side.value.id, side.attr))
    kwargs = {k.arg for k in call.keywords}
    if {"id", "user_id"} <= kwargs:  # filter_by(id=..., user_id=...)
        out |= {("filter_by", "id"), ("filter_by", "user_id")}
    return out


def _is_session_get(node: ast.AST) -> bool:
    """``db.session.get(...)`` (or ``session.get``): loading a row by its key alone."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "session")


def _hand_written_ownership_checks(path: Path) -> list[tuple[int, str]]:
    """Where a module loads a row by id and checks its owner itself instead of asking ``owned``:
    a select/where testing ``X.id ==`` and ``X.user_id ==`` together, or a row from
    ``db.session.get`` whose ``.user_id`` is then compared."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            pairs = _compared(node)
            for base, attr in pairs:
                if attr == "id" and (base, "user_id") in pairs:
                    found.append((node.lineno, f"{base}.id == ... and {base}.user_id == ..."))
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        loaded = {t.id for node in ast.walk(func) if isinstance(node, ast.Assign)
                  and any(_is_session_get(n) for n in ast.walk(node.value))  # also `get(...) if ok else None`
                  for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(func):
            if not isinstance(node, ast.Compare):
                continue
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and side.attr == "user_id" and (
                        (isinstance(side.value, ast.Name) and side.value.id in loaded) or _is_session_get(side.value)):
                    found.append((node.lineno, "db.session.get(...) then .user_id compared"))
    return sorted(set(found))


def test_rows_are_loaded_for_their_owner_in_one_place():
    found = {}
    for path in _py("**/*.py"):
        if _rel(path) == "webapp/models/owned.py":
            continue
        if hits := _hand_written_ownership_checks(path):
            found[_rel(path)] = hits
    assert found == {}, (
        "load a row by id for a user with webapp.models.owned(Model, user, id, *criteria) and let the "
        f"view turn None into 404 (the Flask tutorial's get_post). Hand-written checks: {found}")


def test_the_ownership_check_sees_both_ways_of_writing_it(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def a(i, u):\n"
        "    return db.session.scalar(select(Photo).where(Photo.id == i, Photo.user_id == u.id))\n"
        "def b(i, u):\n"
        "    row = db.session.get(Symptom, i)\n"
        "    if row is None or row.user_id != u.id:\n"
        "        abort(404)\n"
        "def c(i, u):\n"
        "    return owned(Photo, u, i)\n"
        "def d(u):\n"
        "    return select(Photo).where(Photo.user_id == u.id, Photo.area == 'crown')\n"
        "def e(i, u):\n"
        "    row = db.session.get(Device, i) if 0 < i else None\n"
        "    return row if row is not None and row.user_id == u.id else None\n")
    assert [line for line, _ in _hand_written_ownership_checks(sample)] == [2, 5, 13]


# ---- no reaching into another package ---------------------------------------------------------

def _package(path: Path) -> str:
    parts = path.relative_to(WEBAPP).parts
    return parts[0] if len(parts) > 1 else path.stem


def _is_view_module(module: str) -> bool:
    """A feature's views: webapp.<feature>.routes, or any module of a webapp.<feature>.routes package."""
    return module.startswith("webapp.") and "routes" in module.split(".")[1:]


def test_no_module_imports_another_packages_private_functions_or_a_blueprints_routes_from_a_service():
    bad = []
    services = set(_services())
    for path in _py("**/*.py"):
        mine = _package(path)
        for module, name, line in _imports(path):
            parts = module.split(".")
            if parts[0] != "webapp" or len(parts) < 2:
                continue
            if path in services and (_is_view_module(module) or (name and _is_view_module(f"{module}.{name}"))):
                bad.append((_rel(path), line, module))  # a service never imports a view, its own feature's neither
            if parts[1] == mine:
                continue
            if name and name.startswith("_"):
                bad.append((_rel(path), line, f"{module}.{name}"))
    assert not bad, bad


def test_the_routes_notion_knows_a_routes_package():
    assert _is_view_module("webapp.minoxidil.routes.push") and _is_view_module("webapp.today.routes")
    assert not _is_view_module("webapp.minoxidil.push") and not _is_view_module("webapp.minoxidil.cards")
    assert (WEBAPP / "minoxidil" / "cards.py") in _services()


# ---- no import cycles ----------------------------------------------------------------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """webapp module -> the webapp modules it imports, at the top or inside a function.

    ``from webapp.x import y`` counts as importing the module webapp.x.y when there is one, else
    webapp.x; relative imports are resolved. (A parent package's __init__ is not counted: Python
    runs it first, but every submodule would then be in a cycle with its package.)"""
    paths = {_module_name(p): p for p in _py("**/*.py")}

    def resolve(module: str) -> str | None:
        while module and module not in paths:
            module = module.rpartition(".")[0]
        return module or None

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges |= {resolve(a.name) for a in node.names if a.name.startswith("webapp")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                if base == "webapp" or base.startswith("webapp."):
                    edges |= {resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in paths else resolve(base)
                              for a in node.names}
        graph[name] = {e for e in edges if e is not None and e != name}
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """An import path from ``start`` back to itself, or None."""
    parent: dict[str, str] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if nxt not in parent:
                parent[nxt] = node
                todo.append(nxt)
    return None


def test_the_import_graph_sees_function_level_and_relative_imports():
    graph = _import_graph()
    assert "webapp.minoxidil.push" in graph["webapp.minoxidil.sender"]
    assert "webapp.minoxidil.push" in graph["webapp.doctor"]  # imported inside a function
    assert "webapp.minoxidil.cards" in graph["webapp.settings.page"]  # likewise
    assert _cycle_through({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "a") == ["a", "b", "c", "a"]
    assert _cycle_through({"a": {"b"}, "b": {"c"}, "c": set()}, "a") is None


def test_no_import_cycle_anywhere():
    """Modules import one way only (views -> cards -> service -> domain; cli -> sender -> push; a
    package's __init__ -> its views -> its blueprint module), so none has to import another inside
    a function to dodge a cycle."""
    graph = _import_graph()
    assert len(graph) >= 80
    cycles = {frozenset(c): c for c in (_cycle_through(graph, m) for m in sorted(graph)) if c}
    assert not cycles, f"import cycles: {list(cycles.values())}"


def test_every_module_can_be_imported_first():
    """The graph above leaves out a package's __init__, which Python runs before any of its modules
    (and which imports the package's views): a cycle through one shows only at run time, as
    "partially initialized module". Import each module first, in a fresh interpreter state."""
    names = sorted(_import_graph())
    code = (
        "import importlib, sys\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    for key in [k for k in sys.modules if k == 'webapp' or k.startswith('webapp.')]:\n"
        "        del sys.modules[key]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as err:\n"
        "        bad.append((name, str(err)))\n"
        "print(repr(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout[-2000:]


def test_minoxidil_modules_import_each_other_at_the_top_only():
    late = []
    for path in _py("minoxidil/**/*.py"):
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                late += [(_rel(path), n.lineno) for n in ast.walk(fn)
                         if isinstance(n, ast.ImportFrom) and (n.level or (n.module or "").startswith("webapp"))
                         or isinstance(n, ast.Import) and any(a.name.startswith("webapp") for a in n.names)]
    assert not late, f"imports of webapp modules inside functions (a hidden cycle?): {late}"


# ---- services take the user and now -----------------------------------------------------------

def _clock_reads_and_user_ids(path: Path) -> list[tuple[int, str]]:
    """A service or card builder that reads the clock itself (``utcnow()``), or a public function
    that takes a ``user_id`` instead of the user."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "utcnow":
            found.append((node.lineno, "utcnow()"))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            if any(a.arg == "user_id" for a in params):
                found.append((node.lineno, f"{node.name}(user_id)"))
    return found


def test_services_take_the_user_and_now_from_their_caller():
    found = {_rel(p): hits for p in _services() if (hits := _clock_reads_and_user_ids(p))}
    assert found == {}, (
        "a service's public function takes the user (not an id) and now (the view, the sender or the "
        f"job passes utcnow() once); found: {found}")


def test_the_user_and_now_check_sees_a_clock_read_and_an_id(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def a(user, now):\n"
        "    return now\n"
        "def b(user_id, now):\n"
        "    return now\n"
        "def c(user):\n"
        "    return utcnow()\n"
        "def _d(user_id):\n"
        "    return user_id\n")
    assert [line for line, _ in _clock_reads_and_user_ids(sample)] == [3, 6]
