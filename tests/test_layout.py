"""The package's arrows run one way: cli -> tracking -> tasks -> building blocks -> rnn.

Building blocks (rnn/, layers/, decoding/, data/, training/) and task packages never import
tracking, an entry point (cli/) or a task package other than their own; rnn/ imports torch only.
Checked by walking every import statement of src/ with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rnnpipe.config import PROJECT_ROOT
from rnnpipe.tasks.registry import task_specs

PACKAGE = PROJECT_ROOT / "src" / "rnnpipe"
BUILDING_BLOCKS = ("rnn", "layers", "decoding", "data", "training")
UPWARD = ("rnnpipe.tracking", "rnnpipe.cli")


def imported_modules(path: Path) -> list[list[str]]:
    """For each import in ``path``, the modules it may name: ``import a`` names ``a``;
    ``from a import b`` names ``a`` and, as ``b`` may be a submodule, ``a.b``."""
    imports = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imports += [[alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports += [[node.module, f"{node.module}.{alias.name}"] for alias in node.names]
    return imports


def task_package_of(module: str) -> str | None:
    """``rnnpipe.tasks.ner.model`` -> ``ner``; None outside a task package."""
    parts = module.split(".")
    if parts[:2] == ["rnnpipe", "tasks"] and len(parts) > 2:
        candidate = parts[2]
        if (PACKAGE / "tasks" / candidate).is_dir():
            return candidate
    return None


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def violations(path: Path) -> list[str]:
    relative = path.relative_to(PACKAGE)
    top = relative.parts[0]
    own_task = relative.parts[1] if top == "tasks" and len(relative.parts) > 2 else None
    found = []
    for names in imported_modules(path):
        module, tasks = names[-1], {task_package_of(name) for name in names} - {None}
        if top in (*BUILDING_BLOCKS, "tasks") and within(names[0], UPWARD):
            found.append(f"{relative}: imports {module} (upward)")
        if (
            top == "rnn"
            and within(names[0], ("rnnpipe",))
            and not within(names[0], ("rnnpipe.rnn",))
        ):
            found.append(f"{relative}: imports {module} (rnn/ imports torch only)")
        if top in BUILDING_BLOCKS and tasks:
            found.append(f"{relative}: imports {module} (a building block reads no task)")
        if own_task and tasks - {own_task}:
            found.append(f"{relative}: imports {module} (another task package)")
    return found


def test_no_import_runs_upward_or_across_tasks():
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in violations(path)]
    assert found == []


@pytest.mark.parametrize(
    ("file", "source", "expected"),
    [
        ("training/x.py", "from rnnpipe.tracking.loading import load_task_module", "upward"),
        ("tasks/ner/x.py", "import rnnpipe.cli.train", "upward"),
        ("tasks/ner/x.py", "from rnnpipe.tasks.sentiment import data", "another task package"),
        ("tasks/ner/x.py", "from rnnpipe.tasks import sentiment", "another task package"),
        ("data/x.py", "from rnnpipe.tasks.ner.schemes import split_tag", "reads no task"),
        ("rnn/x.py", "from rnnpipe.errors import RnnpipeError", "torch only"),
    ],
)
def test_the_walk_catches_each_kind_of_wrong_import(tmp_path, monkeypatch, file, source, expected):
    """The checker itself: each rule fires on a file that breaks it."""
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    (tmp_path / "tasks" / "sentiment").mkdir(parents=True)
    (tmp_path / "tasks" / "ner").mkdir(parents=True)
    path = tmp_path / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source + "\n")
    [found] = violations(path)
    assert expected in found


def test_every_task_package_declares_one_registered_spec():
    packages = sorted(
        p.name for p in (PACKAGE / "tasks").iterdir() if (p / "__init__.py").is_file()
    )
    assert packages == sorted(task_specs())
    for name, spec in task_specs().items():
        assert spec.module_class.__module__.startswith(f"rnnpipe.tasks.{name}.")
        assert spec.datamodule_class.__module__.startswith(f"rnnpipe.tasks.{name}.")
        assert (PROJECT_ROOT / "conf" / "experiment" / f"{name}.yaml").is_file()
        assert (PROJECT_ROOT / "conf" / "model" / f"{name}.yaml").is_file()
