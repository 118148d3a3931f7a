"""Every member of the native module ``idc_index._core`` is used by the Python layer.

As apache/datafusion-python's ``test_wrapper_coverage.py`` does for its ``_internal`` module: a
binding member that no Python code reaches is dead weight in the extension and in its stub, so
this test fails when one appears. The check reads the package's source (not ``_core.pyi``):

- a module-level name is used when the source writes ``_core.Name`` or imports it from ``_core``;
- a method or attribute of a class is used when the source reads ``.name`` on anything (a
  textual check: the source is not typed here);
- the data attributes of a class the package hands to users unchanged (``Alias = _core.Name``
  with ``Alias`` in that module's ``__all__``) are the public API it re-exports, so they count
  as used; its methods still have to be called somewhere.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from idc_index import _core

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "python" / "idc_index"
TESTS = REPO / "tests"

#: Members kept for the tests and benchmarks, not the package: each must still be used under
#: tests/ (checked below), so that none outlives its last use.
TEST_HOOKS = {
    "Engine.table_path": "which file an index reads (the optimised copy or the release's)",
    "Engine.user_table_names": "what the engine holds after unregister_table",
    "Engine.memory_held": "the memory benchmark (tests/benchmarks/memory_probe.py)",
    "Engine.wait_optimized": "tests wait for the optimised copy before they check it (clients never wait)",
}


Trees = Iterable[tuple[Path, ast.Module]]


def _trees(root: Path) -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in sorted(root.rglob("*.py"))]


@cache
def _package_trees() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(_trees(PACKAGE))


@cache
def _package_attributes() -> frozenset[str]:
    return frozenset(_attributes_read(_package_trees()))


def _is_core(node: ast.expr) -> bool:
    """``_core`` or ``idc_index._core`` (not an attribute that happens to be named ``_core``)."""
    if isinstance(node, ast.Name):
        return node.id == "_core"
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "_core"
        and isinstance(node.value, ast.Name)
        and node.value.id == "idc_index"
    )


def _core_names_used() -> set[str]:
    """Names read from ``_core`` by the package: ``_core.X`` and ``from ._core import X``."""
    used: set[str] = set()
    for _, tree in _package_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_core(node.value):
                used.add(node.attr)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "_core":
                used.update(a.name for a in node.names)
    return used


def _attributes_read(trees: Trees) -> set[str]:
    """Every ``.name`` read anywhere in ``trees``, and every constant ``getattr(x, "name")``."""
    names: set[str] = set()
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                names.add(node.args[1].value)
    return names


def _module_all(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                return set(ast.literal_eval(node.value))
            except ValueError:  # built by an expression: nothing counts as re-exported
                return set()
    return set()


def _reexported_classes() -> set[str]:
    """Classes of ``_core`` that a module of the package exports unchanged."""
    out: set[str] = set()
    for _, tree in _package_trees():
        exported = _module_all(tree)
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Attribute)
                and _is_core(node.value.value)
                and any(isinstance(t, ast.Name) and t.id in exported for t in node.targets)
            ):
                out.add(node.value.attr)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "_core":
                out.update(a.name for a in node.names if (a.asname or a.name) in exported)
    return out


def _public(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("_"))


MODULE_MEMBERS = _public(vars(_core))
CLASSES = [n for n in MODULE_MEMBERS if inspect.isclass(getattr(_core, n))]
CLASS_MEMBERS = [(c, m) for c in CLASSES for m in _public(vars(getattr(_core, c)))]


def test_the_check_sees_the_binding() -> None:
    # Guards the test itself: an empty list here would make every check below pass vacuously.
    assert {"Engine", "QueryResult", "PlanItem", "start_download"} <= set(MODULE_MEMBERS)
    assert ("Engine", "sql") in CLASS_MEMBERS
    assert ("DownloadHandle", "wait") in CLASS_MEMBERS
    assert PACKAGE.is_dir()


@pytest.mark.parametrize("name", MODULE_MEMBERS)
def test_module_member_is_used(name: str) -> None:
    if name in _core_names_used():
        return
    cls = getattr(_core, name)
    # A class the package never names is still used when it only comes back from a call
    # (a listing's objects, a query's result) and the package reads what it holds.
    if inspect.isclass(cls) and any(m in _package_attributes() for m in _public(vars(cls))):
        return
    pytest.fail(
        f"idc_index._core.{name} is not used by the Python package (python/idc_index): "
        "use it there, or remove it from rust/idc_py and python/idc_index/_core.pyi"
    )


@pytest.mark.parametrize(("cls", "member"), CLASS_MEMBERS, ids=[f"{c}.{m}" for c, m in CLASS_MEMBERS])
def test_class_member_is_used(cls: str, member: str) -> None:
    qualified = f"{cls}.{member}"
    if qualified in TEST_HOOKS or member in _package_attributes():
        return  # (the test hooks are checked against the tests below)
    attr = inspect.getattr_static(getattr(_core, cls), member)
    if inspect.isdatadescriptor(attr) and cls in _reexported_classes():
        return  # a field of a record the package hands to users as it is
    pytest.fail(
        f"idc_index._core.{qualified} is not used by the Python package (python/idc_index): "
        "use it there, or remove it from rust/idc_py and python/idc_index/_core.pyi"
    )


@pytest.mark.parametrize("qualified", sorted(TEST_HOOKS))
def test_test_hooks_are_still_used_by_the_tests(qualified: str) -> None:
    cls, member = qualified.split(".")
    assert member in _public(vars(getattr(_core, cls))), f"{qualified} is no longer in the binding: drop it here"
    here = Path(__file__).resolve()
    trees = [(p, t) for p, t in _trees(TESTS) if p.resolve() != here]
    assert member in _attributes_read(trees), (
        f"{qualified} is kept only for the tests, and no test uses it any more: remove it from rust/idc_py, "
        "python/idc_index/_core.pyi and TEST_HOOKS"
    )
