"""Hidden grader for producer_consumer.py: a bigger kitchen, checked as the visible one."""

import multiprocessing

import pytest

from graders.i18n import _
from graders.scenarios import producer_consumer as sc
from graders.test_producer_consumer import OWN_CHECKS, _check_kitchen

pytestmark = pytest.mark.hidden

FORK = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


@pytest.mark.points(2)
def test_busy_kitchen(student):
    """kitchen() with 2 cooks x 40 items and 5 diners eats every item once and cleans up"""
    count, diners = 40, 5
    r = student.run(sc.kitchen_run, count, diners, 0.001, start_method=FORK,
                    checks=OWN_CHECKS, what="kitchen()")
    _check_kitchen(r, _("kitchen() with {producers} producers x {count} items and {consumers} "
                        "consumers").format(producers=2, count=count, consumers=diners))
