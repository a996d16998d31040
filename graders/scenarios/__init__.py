"""Scenarios: the code that runs in the grading child and drives the student's functions.

One module per exercise. A scenario imports the student module by name, calls it, and
returns plain JSON data describing what it observed; the test in graders/test_*.py turns
that into a verdict. Everything a student function is handed (a latency, a target, an eat
callback) is a module-level function here or a functools.partial of one, so it pickles
under every start method. These modules import nothing heavy: spawned children import them.
"""
