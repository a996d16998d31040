"""Instructor scripts: the student release, the Gradescope autograder, grading a class.

  python -m classroom.release DEST              (nox -s release -- DEST)
  python -m classroom.gradescope [--out ZIP]     (nox -s gradescope)
  python -m classroom.grade_all SUBMISSIONS      (nox -s grade-all -- SUBMISSIONS)

Run them from the kit's root. Templates of the files they write live next to them.
"""
