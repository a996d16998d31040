"""Grader for echo_server.py: a threaded TCP echo server and its client (section 12).

Four grading children do all the work: talk() on five connections at once (whole, split
and batched lines; a silent client; a reset; a 1 MB line; a 40,000-byte reply that one
send() cannot write whole); serve() (stop timing; 50 clients x 20 lines while a silent
client holds a connection; handler threads ending); open_server() and chat() against the
grader's own echo server; chat() against servers that never accept, never answer, or close
in the middle of a reply. Several tests read the same run, so each run is made once per
implementation.
"""

import pytest

from graders.harness import SCALE, fail
from graders.scenarios import echo_server as sc

LIMIT = 1.5 * SCALE  # seconds a correct implementation never needs to react
BUSY_CPU = 0.05  # CPU seconds in sc.CPU_WINDOW (0.2 s) above which a thread is spinning
BUSY_CALLS = 500  # recv() calls in sc.CPU_WINDOW above which talk() is spinning (any load)
STOP_LIMIT = 0.5  # the contract: serve() returns within 0.5 s of stop being set
STOP_MARGIN = 0.2 * SCALE  # scheduling slack on top of it (plus the lateness measured)
CLIENTS, LINES = 50, 20
N_PENDING, BACKLOG = 40, 64  # clients connecting at once to open_server(backlog=BACKLOG)
CHAT_TIMEOUT = 0.5  # chat()'s timeout for a server that never accepts or never answers
CHAT_LATE = LIMIT  # how much longer than that chat() may take to raise
CHAT_WAIT = CHAT_TIMEOUT + 2 * LIMIT  # how long each of those cases waits for chat() to end
CUT_TIMEOUT = 2.0  # chat()'s timeout for a server that closes mid-reply (a spinner burns it)
CHAT_BUSY_CPU = 0.25  # CPU seconds chat() may use there (a correct one uses milliseconds)
SUFFIX = sc.SUFFIX.decode()

_runs: dict = {}


def _shared(student, scenario, *args, **kwargs):
    """Run a scenario once per implementation; later tests reuse its value (or failure)."""
    key = (str(student.impl), scenario.__name__, args)
    if key not in _runs:
        try:
            _runs[key] = ("ok", student.run(scenario, *args, **kwargs))
        except pytest.fail.Exception as e:
            _runs[key] = ("failed", e.msg)
    status, value = _runs[key]
    if status == "failed":
        fail(value)
    return value


def _client(student, name: str) -> dict:
    """open_server()'s or chat()'s part of the shared client-side run."""
    r = _shared(student, sc.client_side, N_PENDING, BACKLOG, LIMIT,
                what="open_server() and chat()")[name]
    if "todo" in r:
        fail(f"{name}() is not implemented yet ({r['todo']}).")
    if "raised" in r:
        fail(f"{name}() raised {r['raised']}.")
    return r


def _chat_faults(student) -> dict:
    return _shared(student, sc.chat_faults, CHAT_TIMEOUT, CHAT_WAIT, CUT_TIMEOUT,
                   checks={"threads": False}, what="chat()")


def _talk(student) -> dict:
    return _shared(student, sc.talk_cases, LIMIT, checks={"threads": False}, what="talk()")


def _serve(student) -> dict:
    return _shared(student, sc.serve_checks, CLIENTS, LINES, 12345, LIMIT, LIMIT,
                   checks={"threads": False}, what="serve()")


def _serve_raised(r: dict) -> None:
    error = r["stop1"]["error"] or r["stop2"]["error"]
    if error:
        fail(f"serve() raised {error}: it must serve clients until stop is set, then return "
             f"normally.")


def _grader_error(case: dict, what: str) -> None:
    if "grader_error" in case:
        fail(f"the grader's client for {what} failed with {case['grader_error']}: talk() "
             f"probably broke the connection in an unexpected way.")


def _raised(case: dict, when: str) -> None:
    if case.get("error"):
        fail(f"talk() raised {case['error']} {when}: it must catch connection errors "
             f"(OSError), close the socket and return.")


def _busy(cpu, calls) -> bool:
    return (cpu or 0) > BUSY_CPU or (calls or 0) > BUSY_CALLS


def _activity(cpu, calls) -> str:
    used = "" if cpu is None else f"used {cpu:.2f} s of CPU and "
    return f"{used}called recv() {calls or 0} times in {sc.CPU_WINDOW} s"


def _spin_note(case: dict) -> str:
    cpu, calls = case.get("cpu_stuck"), case.get("calls_stuck")
    if cpu is None and calls is None:
        return ""
    if _busy(cpu, calls):
        return (f" Meanwhile its thread {_activity(cpu, calls)}: a busy loop (like the "
                f"course notes' `if len(data) == 0: continue`).")
    return f" Its thread {_activity(cpu, calls)}: it is blocked, waiting."


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)")


# ------------------------------------------------------------------------------- talk()


@pytest.mark.points(2)
def test_talk_echoes_lines(student):
    """talk() answers each line with its content + SUFFIX + newline, however the bytes arrive"""
    case = _talk(student)["lines"]
    _grader_error(case, "the line exchange")
    _raised(case, "during the line exchange")
    got = case["got"]
    replies = got.split("\n")
    for i, (line, how) in enumerate(sc.LINES):
        want = line.decode() + SUFFIX
        have = replies[i] if i < len(replies) - 1 else None
        if have == want:
            continue
        if have == line.strip().decode() + SUFFIX and line != line.strip():
            fail(f"reply {i + 1} was {_short(have)} but the line {_short(line.decode())} ({how}) "
                 f"needs {_short(want)}: talk() removed the spaces at the ends of the line. "
                 f"Send back the line's content exactly as it came, only without its b'\\n' "
                 f"(no strip()).")
        if have is None:
            seen = f"got only {_short(got)} in all" if got else "got no reply at all"
            fail(f"talk() sent no complete reply to line {i + 1} ({how}) within {LIMIT:g} s; "
                 f"it {seen}. Each complete line needs its reply: the line's bytes, then "
                 f"SUFFIX, then b'\\n'.")
        fail(f"reply {i + 1} was {_short(have)} but the line {_short(line.decode())} ({how}) "
             f"needs {_short(want)} (talk() sent back {_short(got)}). TCP is a byte stream: "
             f"a recv() may hold part of a line or several lines. Buffer what you receive "
             f"and answer each complete line (cut at b'\\n') with line + SUFFIX + b'\\n'.")
    if len(replies) - 1 > len(sc.LINES) or replies[-1]:
        fail(f"after the {len(sc.LINES)} expected replies talk() sent more: "
             f"{_short(got.split(chr(10), len(sc.LINES))[-1])}. Send exactly one reply per line.")
    if case["after"]:
        fail(f"the client sent {sc.TAIL.decode()!r} without a newline and closed its side; "
             f"talk() replied {_short(case['after'])}. A partial last line at close is "
             f"dropped: only complete lines get a reply.")


@pytest.mark.points(2)
def test_talk_returns_on_close(student):
    """talk() returns and closes its socket when the client closes the connection"""
    r = _talk(student)
    lines, silent = r["lines"], r["silent"]
    for case, what in ((silent, "a client that connected, stayed silent and closed"),
                       (lines, "a client that sent lines, then closed its sending side")):
        _grader_error(case, what)
        _raised(case, f"with {what}")
        if not case["returned"]:
            fail(f"talk() did not return within {LIMIT:g} s with {what}: once the client "
                 f"has closed, recv() returns b'' at once and for ever; talk() must then "
                 f"close the socket and return.{_spin_note(case)}")
        if not case["closed"]:
            fail(f"talk() returned with {what} but left the socket open: close it before "
                 f"returning (`with sock:` or try/finally: sock.close()), so the client sees "
                 f"the end of the connection.")
    if silent.get("returned_early"):
        fail("talk() returned while its client was still connected and silent: it must "
             "wait in recv() for the client's next bytes.")
    if lines["after_eof"] != "eof":
        fail(f"after the client closed its sending side it did not see the connection "
             f"end ({lines['after_eof']}): talk() must close the socket when recv() "
             f"returns b''.")


def test_talk_never_busy_waits(student):
    """talk() blocks in recv(): no CPU burned while the client is silent or gone"""
    r = _talk(student)
    silent = r["silent"]
    _grader_error(silent, "a silent client")
    cpu, calls = silent.get("cpu_silent"), silent.get("calls_silent")
    if _busy(cpu, calls):
        fail(f"while its client was connected and silent, talk()'s thread "
             f"{_activity(cpu, calls)}: it polls instead of waiting. Call a blocking recv() "
             f"(no non-blocking socket, no short timeout in a loop) and let it wait.")
    for name, what in (("silent", "closed"), ("lines", "closed its sending side"),
                       ("reset", "reset the connection"), ("long", "sent a 1 MB line")):
        case = r[name]
        cpu, calls = case.get("cpu_stuck"), case.get("calls_stuck")
        if _busy(cpu, calls):
            fail(f"after the client {what}, talk() never returned and its thread "
                 f"{_activity(cpu, calls)}: a busy loop. recv() returning b'' means the "
                 f"client is gone for good: return instead of `continue`.")


def test_talk_returns_on_reset(student):
    """talk() returns and closes its socket when the client resets the connection"""
    case = _talk(student)["reset"]
    _grader_error(case, "the reset")
    if case.get("error"):
        fail(f"talk() raised {case['error']} when the client reset the connection: a reset "
             f"(ConnectionResetError, or any OSError) ends the conversation; catch it, close "
             f"the socket and return.")
    if not case["returned"]:
        fail(f"talk() did not return within {LIMIT:g} s after the client reset the "
             f"connection (recv() raises ConnectionResetError, or returns b'').{_spin_note(case)}")
    if not case["closed"]:
        fail("talk() returned after a connection reset but left its socket open: close it "
             "on every way out (`with sock:` or try/finally).")


def test_talk_sends_whole_reply(student):
    """talk() sends each reply whole (sendall), also when the socket takes only part at once"""
    case = _talk(student)["big"]
    _grader_error(case, "the 40,000-byte line")
    _raised(case, f"on a line of {sc.BIG_LINE:,} bytes")
    if case["whole"]:
        return
    size, received = case["size"], case["received"]
    if case["returned_early"] and case["prefix"]:
        fail(f"talk() closed the connection after a line of {sc.BIG_LINE:,} bytes, having sent "
             f"{received:,} of the {size:,} bytes of its reply: only a line longer than "
             f"64 KiB (65,536 bytes) is too long; this one must get its whole reply.")
    if case["prefix"]:
        short = [(given, sent) for given, sent in case["sends"] if sent < given]
        how = (f" send() returned {short[0][1]:,} for a reply of {short[0][0]:,} bytes, and "
               f"the rest was never sent." if short else "")
        fail(f"the client sent a line of {sc.BIG_LINE:,} bytes and received only {received:,} "
             f"of the {size:,} bytes of its reply, then nothing for {LIMIT:g} s.{how} send() "
             f"may send only part of the data when the socket's buffers are full, and returns "
             f"how much it sent. Send each reply with sock.sendall(...), which sends it all.")
    fail(f"the client sent a line of {sc.BIG_LINE:,} bytes and its reply began with "
         f"{_short(case['start'])} ({received:,} bytes received, {size:,} expected): the "
         f"reply must be the line's bytes, then SUFFIX, then b'\\n', sent whole.")


def test_talk_gives_up_on_long_line(student):
    """talk() closes the connection when a line exceeds 64 KiB instead of buffering forever"""
    case = _talk(student)["long"]
    _grader_error(case, "the long line")
    _raised(case, "on a line of 1 MB without a newline")
    if not case["returned"]:
        read = case.get("read")
        got = f" (it had read {read:,} bytes of it)" if read else ""
        fail(f"the client sent 1,000,000 bytes without a newline and talk() had not returned "
             f"{LIMIT:g} s later{got}: a line longer than 64 KiB (MAX_LINE) must make talk() "
             f"close the socket and return, or one client can fill the server's memory."
             f"{_spin_note(case)}")
    if not case["closed"]:
        fail("talk() gave up on a line longer than 64 KiB but left the socket open: close it.")


# -------------------------------------------------------------------------- open_server()


def test_open_server(student):
    """open_server() returns a TCP socket listening with backlog, SO_REUSEADDR; busy port raises"""
    n_pending, backlog = N_PENDING, BACKLOG
    r = _client(student, "open_server")
    if "family" not in r:
        fail(f"open_server() returned a {r['type']}; expected a socket.socket.")
    if not (r["family"] and r["stream"]):
        fail("open_server() returned a socket that is not an IPv4 TCP socket "
             "(socket.AF_INET, socket.SOCK_STREAM).")
    host, _, port = r["address"].rpartition(":")
    if host != "127.0.0.1" or port == "0":
        fail(f"open_server() with its defaults is bound to {r['address']}; expected 127.0.0.1 "
             f"and a port chosen by the OS (port 0 asks for one; bind before listen).")
    if r["listening"] is False or r["accepts"] is not True:
        fail(f"open_server() returned a socket a client could not connect to "
             f"({r['accepts']}): call listen(backlog) before returning.")
    if not r["reuse"]:
        fail("open_server() did not set SO_REUSEADDR: setsockopt(socket.SOL_SOCKET, "
             "socket.SO_REUSEADDR, 1) before bind, so a restarted server gets its port back.")
    if r["got_port"] != r["given_port"]:
        fail(f"open_server('127.0.0.1', {r['given_port']}) gave {r['got_port']}: bind to the "
             f"port asked for.")
    if r["rebind"] != "ok":
        fail(f"open_server() on the port of a server closed a moment ago failed "
             f"({r['rebind']}): set SO_REUSEADDR before bind.")
    if r["busy"] != "raised":
        fail(f"open_server() on a port another server was listening on {r['busy']} instead "
             f"of raising OSError: when bind() fails, let its error propagate (close the "
             f"socket first), never hand back a socket that is not bound and listening.")
    if r["pending"] < n_pending:
        fail(f"only {r['pending']} of {n_pending} clients could connect at once to "
             f"open_server(backlog={backlog}) before anyone accepted: pass `backlog` to "
             f"listen() (the seed's listen(5) holds only about 6).")
    queued, small = r.get("small_backlog"), sc.SMALL_BACKLOG
    if queued is not None and queued > 2 * small + 4:
        fail(f"open_server(backlog={small}) took {queued} of {sc.SMALL_CLIENTS} clients into "
             f"its queue before anyone accepted (listen({small}) holds about {small + 1}): it "
             f"ignores `backlog`. Call server.listen(backlog) with the argument given, not "
             f"listen() or a number of your own.")


# -------------------------------------------------------------------------------- serve()


@pytest.mark.points(2)
def test_serve_stops(student):
    """serve() returns within 0.5 s of stop being set, with the server socket closed"""
    r = _serve(student)
    stop = r["stop1"]
    if stop["error"]:
        fail(f"serve() raised {stop['error']} when stop was set: it must return normally.")
    if not stop["returned"]:
        if stop.get("after_poke"):
            how = ("it returned only when one more client connected: accept() waits without "
                   "a timeout. Give the server a timeout (server.settimeout(0.1)) and look at "
                   "`stop` each time accept() times out.")
        elif stop.get("after_idle_left"):
            how = ("it returned only when the connected client left: serve() waited for a "
                   "client's talk() (talk() inline, or joining handler threads). Run each "
                   "talk() in its own daemon thread and do not wait for it.")
        else:
            how = ("it never returned, not even after a new client connected and the "
                   "connected one left.")
        fail(f"serve() had not returned {LIMIT:g} s after stop was set (one client was "
             f"connected and idle): {how}")
    allowed = STOP_LIMIT + STOP_MARGIN + stop["lateness"]
    if stop["elapsed"] > allowed:
        fail(f"serve() returned {stop['elapsed']:.2f} s after stop was set; the contract "
             f"allows 0.5 s (here {allowed:.2f} s with the machine's measured slack). Make "
             f"accept() time out sooner (server.settimeout(0.1)) and check `stop` each time.")
    if not stop["server_closed"]:
        fail("serve() returned but left the server socket open: close it on the way out "
             "(try/finally or `with server:`), so its port is free again.")
    stop2 = r["stop2"]
    if not stop2["returned"] or stop2["elapsed"] > STOP_LIMIT + STOP_MARGIN + stop2["lateness"]:
        when = (f"{stop2['elapsed']:.2f} s" if stop2["returned"]
                else f"no return within {LIMIT:g} s")
        fail(f"with 51 clients connected, serve() took {when} to return after stop was set: "
             f"it must return within 0.5 s however many clients are connected.")
    if stop2["error"] or not stop2["server_closed"]:
        fail(f"with 51 clients connected, serve() "
             f"{'raised ' + stop2['error'] if stop2['error'] else 'left the server open'} "
             f"when stopped: it must return normally with the server closed.")


@pytest.mark.points(3)
def test_serve_concurrent_clients(student):
    """serve() answers 50 clients at once while another client stays connected and silent"""
    r = _serve(student)
    _serve_raised(r)
    want = f"I will stay silent now{SUFFIX}\n"
    if r["silent_reply"] is None:
        fail(f"a client connected to serve() and sent one line, but got no reply within "
             f"{LIMIT:g} s: serve() must accept() each client and run talk() on it.")
    if r["silent_reply"] != want:
        fail(f"a client sent 'I will stay silent now\\n' to serve() and got "
             f"{r['silent_reply']!r}; expected {want!r} (see the talk() tests).")
    if r["refused"]:
        fail(f"{r['refused']} of {CLIENTS} clients could not connect to serve()'s server: "
             f"keep it open and listening until stop is set.")
    statuses = r["statuses"]
    done = statuses.get("done", 0)
    if r["wrong"]:
        w = r["wrong"]
        fail(f"client {w['client']} of {CLIENTS} sent {w['sent']!r} (its line "
             f"{w['line'] + 1}) and got the reply {w['got']!r}; expected {w['want']!r}. "
             f"Each client must get the replies to its own lines, in order.")
    if done < CLIENTS:
        if r["replies"] == 0:
            fail(f"none of {CLIENTS} clients got a single reply while an earlier client "
                 f"stayed connected and silent (waited until nothing had happened for "
                 f"{LIMIT:g} s): serve() is busy with that one client. Start a new thread "
                 f"for each talk() and go straight back to accept().")
        others = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()) if s != "done")
        fail(f"only {done} of {CLIENTS} clients got all {LINES} replies ({others}; "
             f"{r['replies']} replies in all) before nothing happened for {LIMIT:g} s: "
             f"every client must be served at the same time, each in its own thread.")


def test_serve_handler_threads(student):
    """each client is handled in a daemon thread, and that thread ends when the client leaves"""
    r = _serve(student)
    _serve_raised(r)
    if not r["handlers"]:
        fail("while 51 clients were connected, no thread was running talk(): serve() must "
             "hand each accepted connection to talk() in a thread of its own.")
    if r["n_not_daemon"]:
        fail(f"{r['n_not_daemon']} thread(s) running talk() were not daemon threads "
             f"({', '.join(r['not_daemon'])}): start each handler with daemon=True, so a "
             f"silent client never keeps the program alive.")
    if r["left_in_talk"]:
        cpu = r["left_cpu"]
        spin = (f"; one of them used {cpu:.2f} s of CPU in {sc.CPU_WINDOW} s (a busy loop)"
                if cpu is not None and cpu > BUSY_CPU else "")
        fail(f"{r['left_in_talk']} thread(s) started by serve() were still in talk() "
             f"{LIMIT:g} s after every client had closed its connection "
             f"({', '.join(r['left_names'])}{spin}): talk() must return when its client "
             f"leaves (recv() returns b'').")
    if r["left_threads"]:
        fail(f"{r['left_threads']} thread(s) started by serve() were still running "
             f"{LIMIT:g} s after serve() had returned and every client had left "
             f"({', '.join(r['left_names'])}): let every thread you start end.")


# --------------------------------------------------------------------------------- chat()


@pytest.mark.points(2)
def test_chat(student):
    """chat() sends each stripped, non-blank message as a line and returns the decoded replies"""
    r = _client(student, "chat")
    kept = [m.strip() for m in sc.MESSAGES if m.strip()]
    sent_ok = "".join(m + "\n" for m in kept)
    if r["hung"]:
        fail(f"chat() had not returned {LIMIT:g} s after it was called; the server had "
             f"received {r['sent']!r}. Send each message followed by b'\\n' and read the "
             f"reply until its b'\\n' (the server answers only complete lines).")
    blanks = [line for line in r["sent"].split("\n")[:-1] if not line.strip()]
    if blanks:
        fail(f"chat() sent {len(blanks)} blank line(s) for the messages {sc.MESSAGES!r}: "
             f"strip each message and skip it when nothing is left (the server received "
             f"{r['sent']!r}).")
    if r["sent"] != sent_ok:
        fail(f"for the messages {sc.MESSAGES!r} the server received {r['sent']!r}; expected "
             f"{sent_ok!r}: each message stripped, UTF-8 encoded, followed by b'\\n', in "
             f"order, blank ones skipped.")
    if r["error"]:
        fail(f"chat() raised {r['error']} talking to a working echo server.")
    want = [m + SUFFIX for m in kept]
    if r["replies"] != want:
        fail(f"chat() returned {r['replies']!r}; expected {want!r}: one reply per message "
             f"sent, UTF-8 decoded, without its newline, in order. A reply may arrive in "
             f"pieces: read until b'\\n' (one of them came in two parts).")


_NO_REPLY = "a server that accepted the connection and read the lines but never answered"
_NO_ACCEPT = "a server that never accepted the connection (its queue was full)"
_CUT = ("a server that answered the first message, sent 3 bytes of the second reply and "
        "closed the connection")


@pytest.mark.points(2)
def test_chat_times_out(student):
    """chat(..., timeout) raises TimeoutError when the server never answers or never accepts"""
    r = _chat_faults(student)
    call = f"chat(..., timeout={CHAT_TIMEOUT:g})"
    for name, what, fix in (
            ("no_reply", _NO_REPLY,
             "waiting for the reply, it did not give up after `timeout` seconds. Create the "
             "socket with socket.create_connection((host, port), timeout=timeout) and never "
             "call settimeout(None) or setblocking(True) on it"),
            ("no_accept", _NO_ACCEPT,
             "connecting, it did not give up after `timeout` seconds. The timeout covers "
             "connecting too: pass it to socket.create_connection((host, port), "
             "timeout=timeout), or call sock.settimeout(timeout) before sock.connect()")):
        case = r[name]
        if case.get("skipped"):
            continue
        if not case["returned"]:
            fail(f"{call} to {what} had not returned {CHAT_WAIT:g} s later: {fix}.")
        took = f"after {case['elapsed']:.2f} s"
        if case["error"] is None:
            fail(f"{call} to {what} returned {case['value']!r} {took}; it must raise "
                 f"TimeoutError when the timeout expires (let the socket's TimeoutError "
                 f"propagate), never return as if the server had answered.")
        if not case["os_error"]:
            fail(f"{call} to {what} raised {case['error']} {took}; expected TimeoutError "
                 f"(socket.timeout, an OSError): let the socket's own error propagate.")
        if case["elapsed"] > CHAT_TIMEOUT + CHAT_LATE:
            fail(f"{call} to {what} raised {case['error']} only {took}: it must give up "
                 f"after about `timeout` seconds. Use the timeout it is given, not a number "
                 f"of its own.")
        if case["elapsed"] < 0.8 * CHAT_TIMEOUT:
            fail(f"{call} to {what} raised {case['error']} {took}, before its timeout had "
                 f"expired: wait up to `timeout` seconds (a blocking socket with that "
                 f"timeout), do not give up at once.")


def test_chat_stops_when_server_closes(student):
    """chat() raises (or returns) at once when the server closes in the middle of a reply"""
    case = _chat_faults(student)["cut"]
    if not case["returned"]:
        cpu = case["cpu_stuck"]
        spin = (f" Meanwhile its thread used {cpu:.2f} s of CPU in {sc.CPU_WINDOW} s: a busy "
                f"loop." if cpu is not None and cpu > BUSY_CPU else "")
        fail(f"with {_CUT}, chat() had not returned {CHAT_WAIT:g} s later.{spin} Once the "
             f"server has closed, recv() returns b'' at once and for ever: the first time it "
             f"does, raise ConnectionError (the reply will never be complete) instead of "
             f"calling recv() again.")
    if case["cpu"] is not None and case["cpu"] > CHAT_BUSY_CPU:
        fail(f"with {_CUT}, chat() ended ({case['error'] or 'it returned'}) only after "
             f"{case['elapsed']:.2f} s, having used {case['cpu']:.2f} s of CPU: it kept "
             f"calling recv() although recv() returned b''. Raise ConnectionError the first "
             f"time recv() returns b''.")


def test_chat_closes_its_socket(student):
    """chat() closes its socket when it returns and when it raises"""
    fix = ("close it on every way out, also when an exception is raised: `with "
           "socket.create_connection((host, port), timeout=timeout) as sock:` (or "
           "try/finally: sock.close()).")
    r = _client(student, "chat")
    if r.get("unclosed"):  # None when it hung (test_chat says so)
        fail(f"chat() returned its replies but left its socket open: {fix}")
    faults = _chat_faults(student)
    for name, what in (("no_reply", _NO_REPLY), ("cut", _CUT), ("no_accept", _NO_ACCEPT)):
        case = faults[name]
        if case.get("unclosed"):
            how = f"raised {case['error']}" if case["error"] else "returned"
            fail(f"with {what}, chat() {how} but left its socket open: {fix}")
