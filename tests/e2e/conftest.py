"""
Shared machinery for the end-to-end suite: start and stop the real `herald serve`
binary, and talk to it over raw sockets (HTTP/1.1 and RFC 6455 WebSocket frames).

The binary is $HERALD_BIN (default build/release/herald). Each server gets a fresh
temporary data folder and working directory, listens on 127.0.0.1:0 and is found by
the `listening on 127.0.0.1:PORT` line it prints on stdout. stderr goes to a file so
tests can assert on log lines; any sanitizer report in it fails the test. Servers are
stopped with SIGTERM and must exit 0 within 12 s.
"""
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERALD_BIN = os.environ.get("HERALD_BIN", os.path.join(REPO_ROOT, "build", "release", "herald"))
TIMEOUT = 5.0  # default deadline for one network read (sanitizer builds are ~3x slower)
START_TIMEOUT = 20.0
STOP_TIMEOUT = 12.0
SANITIZER_MARKERS = (
    "runtime error:",
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer",
)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# --------------------------------------------------------------------------- environment

# When set (scripts/pg-test.sh), every Server runs on its own PostgreSQL database.
PG_URL = os.environ.get("HERALD_TEST_PG_URL")


def pytest_configure(config):
    # `make test` runs the suite on SQLite, then again on PostgreSQL (`make test-pg`) with
    # -m "not store_independent": a test whose outcome cannot depend on the store backend
    # runs on SQLite only. The rule is in NOTES.md ("Which tests run on PostgreSQL too").
    config.addinivalue_line(
        "markers", "store_independent: the outcome cannot depend on the store backend; "
        "not run again on PostgreSQL (tests/e2e/NOTES.md)")


_pg_databases = set()  # the databases this process has created or found


def pg_database_for(workdir):
    """The URL of a PostgreSQL database for the server in workdir, created when missing (the
    same workdir gets the same database: a restarted server finds its data). One psql run the
    first time a workdir is seen (CREATE DATABASE, "already exists" accepted), none after."""
    name = "h_" + hashlib.sha1(str(workdir).encode()).hexdigest()[:20]
    if name not in _pg_databases:
        c = subprocess.run(["psql", PG_URL, "-qc", "CREATE DATABASE %s" % name],
                           capture_output=True, text=True, timeout=30)
        assert c.returncode == 0 or ('database "%s" already exists' % name) in c.stderr, c.stderr
        _pg_databases.add(name)
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def clean_env(extra=None):
    """The test process's environment without any HERALD_* variable (the Makefile exports
    HERALD_BIN and HERALD_BENCH_BIN), plus `extra`; a value of None removes a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


_EMPTY_DIR = []


def _empty_dir():
    """One empty working directory for commands that need no files (removed at exit)."""
    if not _EMPTY_DIR:
        d = tempfile.mkdtemp(prefix="herald-cli-")
        atexit.register(shutil.rmtree, d, True)
        _EMPTY_DIR.append(d)
    return _EMPTY_DIR[0]


def run_herald(args, env=None, cwd=None, timeout=20, input=None):
    """Runs `herald ARGS` to completion; returns CompletedProcess with text output."""
    if cwd is None:
        cwd = _empty_dir()
    return subprocess.run([HERALD_BIN, *args], env=clean_env(env), cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)


def sanitizer_problems(text):
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


# --------------------------------------------------------------------------- the server

_live_servers = []


def pytest_unconfigure(config):
    """A server a test started itself (not through a fixture) and did not stop, because the
    test failed first, is killed when the run ends rather than left running."""
    for s in list(_live_servers):
        s.kill()


class Server:
    """One `herald serve` process."""

    def __init__(self, env=None, args=(), cwd=None, workdir=None):
        self.workdir = str(workdir) if workdir else tempfile.mkdtemp(prefix="herald-e2e-")
        os.makedirs(self.workdir, exist_ok=True)
        self.data_dir = os.path.join(self.workdir, "data")
        if cwd is None:
            cwd = os.path.join(self.workdir, "cwd")
            os.makedirs(cwd, exist_ok=True)
        self.cwd = str(cwd)
        base = {
            "HERALD_LISTEN": "127.0.0.1:0",
            "HERALD_DATA_DIR": self.data_dir,
            "HERALD_LOG_LEVEL": "info",
        }
        if PG_URL and "HERALD_DATABASE_URL" not in (env or {}):
            base["HERALD_DATABASE_URL"] = pg_database_for(self.workdir)
        base.update(env or {})
        self.env = clean_env(base)
        self.args = list(args)
        self.stdout_path = os.path.join(self.workdir, "stdout.txt")
        self.stderr_path = os.path.join(self.workdir, "stderr.txt")
        self.proc = None
        self.port = None
        self.stopped = False
        self.returncode = None
        self._files = []
        self._sanitizer_seen = 0

    def cli_env(self, extra=None):
        """Settings for a CLI command (`herald app ...`) that works on this server's store."""
        env = {k: v for k, v in self.env.items()
               if k in ("HERALD_DATA_DIR", "HERALD_DATABASE_URL", "HERALD_JWT_SECRET",
                        "HERALD_ENCRYPTION_KEY")}
        env.update(extra or {})
        return env

    # ---- lifecycle

    def start(self, timeout=START_TIMEOUT):
        self.stopped = False  # a restart (stop, then start) is stopped again at the end
        self.returncode = None
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        self._files = [out, err]
        self.proc = subprocess.Popen([HERALD_BIN, "serve", *self.args], env=self.env,
                                     cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err)
        _live_servers.append(self)
        deadline = time.monotonic() + timeout
        pat = re.compile(r"^listening on 127\.0\.0\.1:(\d+)\r?\n", re.M)
        while True:
            m = pat.search(self.stdout_text())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                self.stopped = True
                self.returncode = self.proc.returncode
                self._close_files()
                raise AssertionError(
                    "herald serve exited with %s before printing 'listening on'\nstdout:\n%s\n"
                    "stderr:\n%s" % (self.returncode, self.stdout_text(), self.stderr_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("herald serve printed no 'listening on 127.0.0.1:PORT' "
                                     "line within %ss\nstderr:\n%s" % (timeout, self.stderr_tail()))
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals the server and waits; asserts exit code 0 within `timeout` and no sanitizer
        report. Returns the seconds it took. Idempotent."""
        if self.proc is None or self.stopped:
            return 0.0
        self.stopped = True
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close_files()
            raise AssertionError("herald did not exit within %ss of %s\nstderr:\n%s"
                                 % (timeout, signal.Signals(sig).name, self.stderr_tail()))
        elapsed = time.monotonic() - t0
        self.returncode = rc
        self._close_files()
        self.assert_no_sanitizer_report()
        assert rc == 0, "herald exited with %s after %s\nstderr:\n%s" % (
            rc, signal.Signals(sig).name, self.stderr_tail())
        return elapsed

    def wait_exit(self, timeout):
        """Waits for the process to end on its own; returns (returncode, seconds) or raises."""
        t0 = time.monotonic()
        rc = self.proc.wait(timeout)
        self.stopped = True
        self.returncode = rc
        self._close_files()
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped = True
        self._close_files()

    def _close_files(self):
        if self in _live_servers:
            _live_servers.remove(self)
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass
        self._files = []

    # ---- observation

    @property
    def pid(self):
        return self.proc.pid

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def url(self, path="/", scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.port, path)

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_tail(self, n=60):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def assert_no_sanitizer_report(self):
        problems = sanitizer_problems(self.stderr_text())
        assert not problems, "sanitizer report in herald's stderr:\n%s\n---\n%s" % (
            "\n".join(problems[:10]), self.stderr_tail(120))

    def wait_for_log(self, predicate, timeout=TIMEOUT):
        """Polls stderr until a line satisfies predicate(line); returns that line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr_text().splitlines():
                if predicate(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no matching log line within %ss; stderr:\n%s"
                                     % (timeout, self.stderr_tail()))
            time.sleep(0.05)

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def fd_list(self):
        out = []
        base = "/proc/%d/fd" % self.pid
        for name in sorted(os.listdir(base), key=int):
            try:
                out.append("%s -> %s" % (name, os.readlink(os.path.join(base, name))))
            except OSError:
                pass
        return out

    def _status_kb(self, key):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no %s in /proc/%d/status" % (key, self.pid))

    def rss_bytes(self):
        return self._status_kb("VmRSS")

    def peak_rss_bytes(self):
        """The high-water mark of the resident set (VmHWM)."""
        return self._status_kb("VmHWM")

    def settle_fds(self, timeout=3.0, quiet=0.3):
        """fd count once it has not changed for `quiet` seconds."""
        last = self.fd_count()
        since = time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            time.sleep(0.05)
            n = self.fd_count()
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    def fd_baseline(self):
        """A first /health request (and /health/ready, which touches the store, so files
        a backend opens lazily are open already), then the settled fd count."""
        r = http_get(self.port, "/health")
        assert r.status == 200, r
        http_get(self.port, "/health/ready")
        return self.settle_fds()

    def assert_no_fd_growth(self, baseline, timeout=5.0):
        deadline = time.monotonic() + timeout
        n = self.fd_count()
        while n > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
            n = self.fd_count()
        assert n <= baseline, "herald leaks file descriptors: %d open at start, %d now:\n%s" % (
            baseline, n, "\n".join(self.fd_list()))


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def _servers_survive_each_test():
    """After every test: any server that died on its own, or wrote a sanitizer report,
    fails *this* test (rather than every later test that finds the port closed)."""
    yield
    problems = []
    for s in list(_live_servers):
        if s.stopped:
            continue
        text = s.stderr_text()
        reports = sanitizer_problems(text)
        if len(reports) > s._sanitizer_seen:
            s._sanitizer_seen = len(reports)
            problems.append("sanitizer report in herald's stderr (pid %d):\n%s\n---\n%s" % (
                s.pid, "\n".join(reports[:10]), "\n".join(text.splitlines()[-80:])))
        if s.proc.poll() is not None:
            s.stopped = True
            s.returncode = s.proc.returncode
            s._close_files()
            problems.append("herald (pid %d) died during this test with status %s\nstderr:\n%s"
                            % (s.pid, s.returncode, "\n".join(text.splitlines()[-80:])))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


_tracked_sockets = set()


def close_tracked_sockets(port=None):
    """Closes the client sockets the helpers opened: all of them, or those connected to the
    server on `port` (and any no longer connected). A server stopped while a client keeps a
    WebSocket or keep-alive connection open waits up to 2-3 s for it to close (its linger);
    closing the clients first, as module servers do at the end, saves that wait."""
    for s in list(_tracked_sockets):
        if port is not None:
            try:
                if s.getpeername()[1] != port:
                    continue
            except OSError:
                pass
        try:
            s.close()
        except OSError:
            pass
        _tracked_sockets.discard(s)


def module_server(tmp_path_factory, env=None, args=(), setup=None):
    """Generator body for module-scoped server fixtures: starts a server, records its fd
    count after a first /health, and at the end closes every client socket the helpers
    opened, checks that the fd count dropped back, and stops the server."""
    workdir = tmp_path_factory.mktemp("herald")
    if setup is not None:
        setup(workdir)
    s = Server(env=env, args=args, workdir=workdir)
    s.start()
    baseline = s.fd_baseline()
    try:
        yield s
        close_tracked_sockets()
        if s.proc.poll() is None:
            s.assert_no_fd_growth(baseline)
    finally:
        if s.proc.poll() is None or not s.stopped:
            s.stop()


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """A default server shared by the tests of one module (fd-leak checked at the end); a
    module's SERVER_ENV dict adds settings (the WebSocket modules use demo mode)."""
    yield from module_server(tmp_path_factory, env=getattr(request.module, "SERVER_ENV", None))


@pytest.fixture
def server_factory(tmp_path):
    """start(env=None, args=(), cwd=None) -> a started Server with extra settings; every
    server started this way is stopped (SIGTERM, exit 0, no sanitizer report) at the end,
    after the client sockets the helpers opened to it are closed (as for module servers)."""
    servers = []

    def start(env=None, args=(), cwd=None):
        s = Server(env=env, args=args, cwd=cwd, workdir=tmp_path / ("srv%d" % len(servers)))
        servers.append(s)
        return s.start()

    yield start
    errors = []
    for s in servers:
        try:
            if s.port is not None and not s.stopped:
                close_tracked_sockets(s.port)
            s.stop()
        except BaseException as e:  # report every server, not only the first
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


# --------------------------------------------------------------------------- raw TCP / HTTP

class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


def tcp_connect(port, timeout=TIMEOUT, rcvbuf=None, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _tracked_sockets.add(s)
    return s


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: List[Tuple[str, str]]
    body: bytes = b""
    raw_head: bytes = b""

    def header(self, name) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name) -> List[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_header(self, name):
        return self.header(name) is not None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        body = self.body[:300]
        return "<Response %d %s headers=%r body=%r>" % (self.status, self.reason, self.headers, body)


def build_request(method, path, headers=None, body=None, version="HTTP/1.1", host="x"):
    """Bytes of one request. headers: list of (name, value) or dict. A Host header is added
    unless host is None or one is given; Content-Length is added for a body unless a
    Content-Length or Transfer-Encoding header is given."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    headers = list(headers or [])
    names = {k.lower() for k, _ in headers}
    if host is not None and "host" not in names:
        headers.insert(0, ("Host", host))
    if isinstance(body, str):
        body = body.encode()
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers)
    head += "\r\n"
    return head.encode("latin-1") + (body or b"")


class HttpConn:
    """A raw client connection with a receive buffer."""

    def __init__(self, port, timeout=TIMEOUT, rcvbuf=None, sock=None):
        self.port = port
        self.timeout = timeout
        self.sock = sock if sock is not None else tcp_connect(port, timeout, rcvbuf)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        _tracked_sockets.discard(self.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def request(self, method, path, headers=None, body=None, version="HTTP/1.1"):
        self.send(build_request(method, path, headers, body, version,
                                host="127.0.0.1:%d" % self.port))

    def _recv(self, deadline):
        """Appends what arrives to buf; raises Closed on EOF/reset, socket.timeout at the
        deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
            raise Closed("reset: %s" % e)
        if not data:
            raise Closed("eof")
        self.buf += data

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._recv(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_until(self, marker, timeout=None, limit=1 << 22):
        deadline = time.monotonic() + (timeout or self.timeout)
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError("no %r in %d bytes" % (marker, len(self.buf)))
            self._recv(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_response(self, head=False, timeout=None) -> Response:
        """Reads one response. 1xx responses are returned on their own. head=True: the
        request was HEAD, so there is no body whatever the headers say."""
        timeout = timeout or self.timeout
        raw = self.recv_until(b"\r\n\r\n", timeout)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        assert m, "bad status line %r" % lines[0]
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            assert sep, "bad header line %r in %r" % (line, raw)
            headers.append((k.strip(), v.strip()))
        r = Response(m.group(1), int(m.group(2)), m.group(3) or "", headers, b"", raw)
        if 100 <= r.status < 200 or head or r.status in (204, 304):
            return r
        te = (r.header("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            body = b""
            while True:
                line = self.recv_until(b"\r\n", timeout)[:-2]
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.recv_until(b"\r\n", timeout) != b"\r\n":
                        pass  # trailers
                    break
                body += self.recv_exact(size, timeout)
                assert self.recv_exact(2, timeout) == b"\r\n"
            r.body = body
        elif r.header("Content-Length") is not None:
            r.body = self.recv_exact(int(r.header("Content-Length")), timeout)
        else:
            r.body = self.read_to_eof(timeout)
        return r

    def read_to_eof(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while True:
                self._recv(deadline)
        except Closed:
            pass
        out, self.buf = self.buf, b""
        return out

    def wait_closed(self, timeout=TIMEOUT):
        """True when the server closes (EOF or reset) within timeout; bytes that arrive
        before are kept in self.buf."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._recv(deadline)
        except Closed:
            return True
        except (socket.timeout, TimeoutError):
            return False

    def is_open(self, wait=0.2):
        """False if the server has closed the connection (checked for `wait` seconds)."""
        return not self.wait_closed(wait)


def http_request(port, method, path, headers=None, body=None, version="HTTP/1.1",
                 timeout=TIMEOUT) -> Response:
    """One request on a fresh connection, which is closed afterwards."""
    with HttpConn(port, timeout) as c:
        c.request(method, path, headers, body, version)
        return c.read_response(head=(method == "HEAD"))


def http_get(port, path, headers=None, timeout=TIMEOUT) -> Response:
    return http_request(port, "GET", path, headers, timeout=timeout)


def wait_until(pred, timeout=TIMEOUT, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------- WebSocket

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def ws_accept_for(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_new_key():
    return base64.b64encode(os.urandom(16)).decode()


def xor_mask(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def ws_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length=None):
    """A client frame. length overrides the length written in the header (the payload is
    sent as given)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, mbit | n])
    elif n < 65536:
        hdr = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if mask:
        key = mask_key if mask_key is not None else os.urandom(4)
        return hdr + key + xor_mask(payload, key)
    return hdr + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return code.to_bytes(2, "big") + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool = False

    @property
    def close_code(self):
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else None

    @property
    def close_reason(self):
        return self.payload[2:]

    def text(self):
        return self.payload.decode("utf-8")

    def json(self):
        return json.loads(self.payload.decode("utf-8"))

    def __repr__(self):
        p = self.payload if len(self.payload) <= 200 else self.payload[:200] + b"..."
        return "<Frame op=%d fin=%d rsv=%d len=%d %r>" % (self.opcode, self.fin, self.rsv,
                                                          len(self.payload), p)


class WSConn(HttpConn):
    """A raw WebSocket client connection (after the 101)."""

    hello = None
    response = None

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True):
        self.send(ws_frame(opcode, payload, fin, rsv, mask))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text)

    def send_json(self, obj):
        self.send_frame(OP_TEXT, json.dumps(obj, ensure_ascii=False))

    def send_close(self, code=None, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    def send_chunked(self, data, size, delay=0.0):
        for i in range(0, len(data), size):
            self.send(data[i:i + size])
            if delay:
                time.sleep(delay)

    def recv_frame(self, timeout=None) -> Frame:
        timeout = timeout or self.timeout
        hdr = self.recv_exact(2, timeout)
        b0, b1 = hdr[0], hdr[1]
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self.recv_exact(2, timeout), "big")
        elif n == 127:
            n = int.from_bytes(self.recv_exact(8, timeout), "big")
        masked = bool(b1 & 0x80)
        key = self.recv_exact(4, timeout) if masked else None
        payload = self.recv_exact(n, timeout + n / 5e6)
        if masked:
            payload = xor_mask(payload, key)
        f = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload, masked)
        assert not masked, "server frames must not be masked (RFC 6455 §5.1): %r" % f
        assert f.rsv == 0, "server frame with RSV bits: %r" % f
        return f

    def recv_message(self, timeout=None, skip_control=False):
        """Next data message as (opcode, payload), reassembling fragments. A control frame
        is returned as (opcode, payload) unless skip_control, which skips pings and pongs
        (keeping them in self.controls); so by default an unexpected ping or pong where a
        message was expected fails the caller."""
        self.controls = getattr(self, "controls", [])
        op, parts = None, []
        while True:
            f = self.recv_frame(timeout)
            if f.opcode >= 8:
                if f.opcode == OP_CLOSE or not skip_control:
                    if op is not None:
                        raise AssertionError("control frame %r inside a message" % f)
                    return f.opcode, f.payload
                self.controls.append(f)
                continue
            if op is None:
                assert f.opcode in (OP_TEXT, OP_BINARY), "unexpected frame %r" % f
                op = f.opcode
            else:
                assert f.opcode == OP_CONT, "expected a continuation, got %r" % f
            parts.append(f.payload)
            if f.fin:
                return op, b"".join(parts)

    def recv_json(self, timeout=None):
        op, payload = self.recv_message(timeout)
        assert op == OP_TEXT, "expected a text message, got opcode %d payload %r" % (
            op, payload[:200])
        return json.loads(payload.decode("utf-8"))

    def ping(self, id_, timeout=None):
        """A JSON ping/pong round trip; returns the pong object."""
        self.send_json({"type": "ping", "id": id_})
        return self.recv_json(timeout)

    def expect_close(self, codes, timeout=None, eof_timeout=4.0):
        """Reads frames up to the server's close frame; asserts its code is in `codes`
        (None stands for an empty close payload), then that the server closes the TCP
        connection without sending anything more. Returns (frames before the close, the
        close frame)."""
        if isinstance(codes, int) or codes is None:
            codes = (codes,)
        before = []
        while True:
            try:
                f = self.recv_frame(timeout)
            except Closed as e:
                raise AssertionError("connection closed (%s) without a close frame; expected "
                                     "close %s; frames before: %r" % (e, codes, before))
            except (socket.timeout, TimeoutError):
                raise AssertionError("no close frame within the deadline; expected close %s; "
                                     "frames before: %r" % (codes, before))
            if f.opcode == OP_CLOSE:
                break
            before.append(f)
        assert f.close_code in codes, "close code %r (reason %r), expected %s; frames before: %r" % (
            f.close_code, f.close_reason, codes, before)
        if len(f.payload) > 2:
            f.close_reason.decode("utf-8")  # the reason must be valid UTF-8
        self.assert_eof(eof_timeout)
        return before, f

    def assert_eof(self, timeout=4.0):
        """The server closes the TCP connection within timeout, sending nothing more."""
        extra = self.buf
        self.buf = b""
        closed = self.wait_closed(timeout)
        extra += self.buf
        assert not extra, "server sent %d bytes after its close frame: %r" % (len(extra), extra[:200])
        assert closed, "server did not close the TCP connection within %ss" % timeout

    def assert_silent(self, wait=0.3):
        """Nothing arrives for `wait` seconds (and the connection stays open)."""
        try:
            f = self.recv_frame(wait)
        except (socket.timeout, TimeoutError):
            return
        raise AssertionError("unexpected frame %r" % f)


# Demo-mode sign-in (HERALD_DEMO=1): the WebSocket protocol tests are about framing, not auth.
WS_PATH = "/ws?user_id=b1"


def ws_handshake(port, path=WS_PATH, headers=None, key=None, host=None, method="GET",
                 timeout=TIMEOUT, rcvbuf=None, version="13", upgrade=True):
    """Sends an opening handshake; returns (Response, WSConn). Headers given as a list of
    (name, value) are added; a header given with value None is left out."""
    key = key if key is not None else ws_new_key()
    base = [("Host", host or "127.0.0.1:%d" % port)]
    if upgrade:
        base += [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    base += [("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    extra = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in extra}
    hdrs = [(k, v) for k, v in base if k.lower() not in names] + extra
    hdrs = [(k, v) for k, v in hdrs if v is not None]
    c = WSConn(port, timeout, rcvbuf)
    c.key = key
    c.send(build_request(method, path, hdrs, None, host=None))
    r = c.read_response()
    c.response = r
    return r, c


def ws_open(port, path=WS_PATH, headers=None, read_hello=True, timeout=TIMEOUT, rcvbuf=None):
    """A WebSocket connection that passed the handshake (and read the hello frame)."""
    r, c = ws_handshake(port, path, headers, timeout=timeout, rcvbuf=rcvbuf)
    if r.status != 101:
        c.close()
        raise AssertionError("handshake refused: %r" % r)
    if read_hello:
        f = c.recv_frame()
        assert f.opcode == OP_TEXT and f.fin, "first frame is not a text frame: %r" % f
        c.hello = f.json()
        assert c.hello.get("type") == "hello", c.hello
    return c
