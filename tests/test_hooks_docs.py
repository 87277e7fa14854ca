"""Meta-tests: every hook is tested and documented with its exact signature (as datasette does)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from okrcore import hookspecs
from okrcore.plugins import PluginManager, hook_names, hook_reference, hook_signature

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = ROOT / "docs" / "hooks.md"
HOOKS = hook_names()


def test_every_hookspec_is_found() -> None:
    declared = {n.name for n in ast.parse(Path(hookspecs.__file__).read_text()).body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("okrcore_")}
    assert set(HOOKS) == declared
    assert len(HOOKS) >= 6
    assert set(HOOKS) == set(PluginManager(load_entry_points=False).pm.hook.__dict__) & declared


def test_hooks_md_is_generated_from_hookspecs() -> None:
    assert HOOKS_MD.read_text(encoding="utf-8") == hook_reference(), (
        "docs/hooks.md is out of date; regenerate it with: python -c \"from okrcore.plugins "
        "import hook_reference as h; print(h(), end='')\" > docs/hooks.md"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_heading_with_its_exact_signature(hook: str) -> None:
    text = HOOKS_MD.read_text(encoding="utf-8")
    args = ", ".join(re.findall(r"(\w+):", hook_signature(hook).split("(", 1)[1].rsplit(")", 1)[0]))
    assert f"\n## {hook}({args})\n" in text
    assert f"def {hook_signature(hook)}: ..." in text


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    tests = (ROOT / "tests" / "test_plugins.py").read_text(encoding="utf-8")
    assert f"def test_hook_{hook}(" in tests, f"write test_hook_{hook} in tests/test_plugins.py"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_says_what_it_receives_returns_and_when(hook: str) -> None:
    doc = (getattr(hookspecs, hook).__doc__ or "").lower()
    assert "receives" in doc
    assert "return" in doc
    assert "runs" in doc or "called" in doc


DOC_BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```\w*\n(?P<code>.*?)```", re.S)


def test_the_tutorial_code_in_the_docs_is_the_tested_code() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = list(DOC_BLOCK.finditer(text))
    assert len(blocks) >= 6
    for block in blocks:
        source = (ROOT / block["path"]).read_text(encoding="utf-8")
        assert block["code"] in source, f"docs/plugins.md block differs from {block['path']}"
