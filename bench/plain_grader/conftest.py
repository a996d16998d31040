"""A plain grader, written from docs/EXERCISES.md in an afternoon: the yardstick that
`bench/bench.py --versus` holds the kit against (issue 16).

    python -m pytest bench/plain_grader --impl solutions

It imports the student's modules directly, into this pytest process, checks a few things
per function and gives every test a timeout (pytest-timeout, 10 s unless a test says more).
There is no containment, no grading child, no start method but the default, no schedule
control and no hidden case: it starts no process the exercises do not need themselves
(the daemons test runs one small program, as the exercise is about a program's end).
"""

import sys
from pathlib import Path

import pytest

MODULES = ("zombies", "daemons", "tickets", "queues", "ipc", "producer_consumer", "threads",
           "shared_state", "counter", "echo_server")


def pytest_addoption(parser):
    parser.addoption("--impl", default="solutions", help="folder of the modules to grade")


@pytest.hookimpl(tryfirst=True)  # before pytest-timeout reads its option
def pytest_configure(config):
    folder = Path(config.getoption("impl")).resolve()
    if not any((folder / f"{m}.py").exists() for m in MODULES) and (folder / "exercises").is_dir():
        folder = folder / "exercises"  # a submission's root
    sys.path.insert(0, str(folder))
    config.impl = folder
    if getattr(config.option, "timeout", None) is None:
        config.option.timeout = 10


@pytest.fixture
def impl(request) -> Path:
    return request.config.impl
