"""scripts/test_numerics.py: its cells, the pytest each runs, and the table it reads back (no
training here; `make test-numerics` runs it for real)."""

from __future__ import annotations

import sys

from rnnpipe.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import test_numerics as numerics  # noqa: E402

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.tasks.adding.test_training" name="test_irnn" time="21.4"/>
<testcase classname="tests.test_train" name="test_reviews[a]" time="1.2">
<failure message="assert 0.75 == 1.0">...</failure></testcase>
<testcase classname="tests.test_train" name="test_skipped" time="0.0"><skipped/></testcase>
</testsuite></testsuites>
"""


def test_the_cells_are_the_own_seed_five_others_two_mkl_paths_and_two_thread_counts():
    cells = numerics.cells()
    assert [c.name for c in cells] == [
        "own seed", "seed 101", "seed 202", "seed 303", "seed 404", "seed 505",
        "MKL_CBWR=COMPATIBLE", "MKL_CBWR=AVX2", "1 thread", "2 threads",
    ]  # fmt: skip
    assert cells[0].env == {}
    assert cells[1].env == {"RNNPIPE_TEST_SEED": "101"}
    assert cells[7].env == {"MKL_CBWR": "AVX2"}  # at the own seed: no seed variable
    for cell, count in ((cells[8], "1"), (cells[9], "2")):
        assert cell.env == {
            "OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count, "RNNPIPE_TEST_THREADS": count
        }  # fmt: skip


def test_a_cell_runs_only_the_learning_tests_under_its_own_settings_alone(tmp_path):
    report = tmp_path / "cell.xml"
    command = numerics.command(report, ["-k", "adding"])
    assert command[:3] == [sys.executable, "-m", "pytest"]
    assert command[command.index("-m", 3) + 1] == "learning"
    assert f"--junitxml={report}" in command and command[-2:] == ["-k", "adding"]
    inherited = {"PATH": "/bin", "RNNPIPE_TEST_SEED": "7", "MKL_CBWR": "AVX2"}
    [own, seed, *_] = numerics.cells()
    assert numerics.environment(own, inherited) == {"PATH": "/bin"}  # nothing leaks in
    assert numerics.environment(seed, inherited) == {"PATH": "/bin", "RNNPIPE_TEST_SEED": "101"}


def test_the_table_has_a_row_per_test_and_a_cell_fails_on_any_failed_test(tmp_path):
    report = tmp_path / "cell.xml"
    report.write_text(REPORT)
    outcomes = numerics.read_report(report)
    assert outcomes["tests/tasks/adding/test_training.py::test_irnn"].passed
    assert not outcomes["tests/test_train.py::test_reviews[a]"].passed
    assert not outcomes["tests/test_train.py::test_skipped"].passed  # skipped is not held
    [own, seed, *_] = numerics.cells()
    failing = numerics.CellResult(own, 1, outcomes, 30.0, "")
    passing = numerics.CellResult(seed, 0, {"tests/x.py::t": numerics.Outcome(True, 2.0)}, 5.0, "")
    assert numerics.failed(failing) and not numerics.failed(passing)
    assert numerics.failed(numerics.CellResult(seed, 4, {}, 1.0, "no tests ran"))
    lines = numerics.table([failing, passing]).splitlines()
    assert lines[0] == "| test | own seed | seed 101 |"
    assert "| tests/tasks/adding/test_training.py::test_irnn | pass 21s | - |" in lines
    assert "| tests/test_train.py::test_reviews[a] | FAIL 1s | - |" in lines
    assert "| tests/x.py::t | - | pass 2s |" in lines
