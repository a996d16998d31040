"""Hidden graders: the instructor's grading only (Gradescope, `nox -s grade-all`).

Marked `hidden` (results.json visibility "after_published") and left out of the student
release by `nox -s release`. Named test_<module>.py like the visible graders, so their
report names read "<module>: ...". Bigger stresses built from the same scenarios.
"""
