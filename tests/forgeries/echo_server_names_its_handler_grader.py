"""Recognisable instrument: the twin's lingering handler threads, renamed `grader-x`.

Class 4 of the trusted-verdicts issue: the serve() scenario left its own threads (`grader-serve`,
`grader-lateness`) out of its count by their names, so a handler that took such a name once its
client had left was never counted. The scenario now leaves out exactly the threads it started
itself, whatever their names.
"""

TWIN = "echo_server/serve_handler_lingers"
SELECT = ["-k", "serve"]
ATTACK = '''


def _handle(conn):
    talk(conn)
    threading.current_thread().name = "grader-x"
    threading.Event().wait()
'''
