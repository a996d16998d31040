"""Hidden grader for producer_consumer.py: a bigger kitchen, checked as the visible one."""

import multiprocessing

import pytest

from graders.desk import Dining
from graders.i18n import _
from graders.scenarios import producer_consumer as sc
from graders.test_producer_consumer import OWN_CHECKS, _check_kitchen

pytestmark = pytest.mark.hidden

FORK = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


@pytest.mark.points(2)
def test_busy_kitchen(student):
    """kitchen() with 2 cooks x 40 items and 5 diners eats every item once and cleans up"""
    count, diners = 40, 5
    r = Dining(0.001, sc.bad_buns(count), sc.held_bun(count)).run(
        student, sc.kitchen_run, count, diners, start_method=FORK, checks=OWN_CHECKS,
        what="kitchen()")
    _check_kitchen(r, _("kitchen() with {producers} producers x {count} items and {consumers} "
                        "consumers").format(producers=2, count=count, consumers=diners))


# Waiting by design (issue 16): the seconds each test spends in the grader's deliberate waits
# (observation windows, sleeps, paced producers, timeouts the code must run out) when the
# submission is correct and the machine quiet, derived from the constants above; per
# parametrized instance, and 0 for a test that reuses another's run. Summed over a grading
# it is that grading's floor: `nox -s bench -- --profile` prints it beside what was measured.
DESIGN_WAIT = {"test_busy_kitchen": 2 * 40 * 0.001 / 5}  # 80 items at 1 ms, 5 consumers
