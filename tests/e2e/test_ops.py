"""
Operations: health endpoints, Prometheus metrics, access logs (text and JSON, no
secrets) and graceful shutdown on SIGTERM / SIGINT.
"""
import json
import os
import re
import signal
import socket
import time
import uuid

import pytest

from conftest import (OP_CLOSE, HttpConn, build_request, close_payload, http_get, http_request,
                      run_herald, wait_until, ws_frame, ws_handshake, ws_open)

SERVER_ENV = {"HERALD_DEMO": "1"}  # WebSocket clients sign in with ?user_id= (demo mode)

# ------------------------------------------------------------------ health

@pytest.mark.store_independent
def test_health_live(server):
    r = http_get(server.port, "/health/live")
    assert r.status == 200, r


def test_health_ready(server):
    r = http_get(server.port, "/health/ready")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    assert r.json().get("status") == "ready", r
    assert r.json()["checks"] == {"server": "ok", "store": "ok"}, r
    assert r.json()["store"] in ("sqlite", "postgres"), r


# ------------------------------------------------------------------ metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    """(samples, types, raw): samples is a list of (name, labels dict, float)."""
    r = http_get(port, "/metrics")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("text/plain"), r
    text = r.body.decode("utf-8")
    samples, types = [], {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        labels = dict(LABEL.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples, types, text


def value(samples, name, **labels):
    """Sum of the samples with this name whose labels include `labels` (None if none)."""
    vals = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    return sum(vals) if vals else None


def cpu_seconds(pid):
    """utime + stime of the process from /proc/PID/stat, in seconds (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.store_independent
def test_metrics_exposition_has_the_metrics(server):
    http_get(server.port, "/health")
    samples, types, text = scrape(server.port)
    assert "# TYPE" in text
    expect_types = {
        "herald_http_requests_total": "counter",
        "herald_http_request_duration_seconds": "histogram",
        "herald_connections": "gauge",
        "herald_ws_frames_total": "counter",
        "herald_ws_bytes_total": "counter",
        "process_resident_memory_bytes": "gauge",
        "process_cpu_seconds_total": "counter",
        "process_open_fds": "gauge",
    }
    for name, t in expect_types.items():
        assert types.get(name) == t, "# TYPE %s %s missing (have %r)" % (name, t, types.get(name))
    assert value(samples, "herald_connections", kind="http") is not None
    assert value(samples, "herald_connections", kind="ws") is not None
    for d in ("in", "out"):
        assert value(samples, "herald_ws_frames_total", direction=d) is not None, d
        assert value(samples, "herald_ws_bytes_total", direction=d) is not None, d
    assert value(samples, "process_resident_memory_bytes") > 1 << 20
    # the CPU time the kernel counts for the process around the scrape (ticks: 10 ms steps)
    lo = cpu_seconds(server.pid)
    cpu = value(scrape(server.port)[0], "process_cpu_seconds_total")
    hi = cpu_seconds(server.pid)
    assert cpu > 0 and lo - 0.05 <= cpu <= hi + 0.05, (lo, cpu, hi)
    assert value(samples, "process_open_fds") > 0


def test_metrics_store_counters(server):
    """The store's figures: a write (a demo user created on the fly) and a read (the readiness
    probe pings the store) are counted; the queues are gauges."""
    samples, types, _ = scrape(server.port)
    for name in ("herald_store_writes_total", "herald_store_commits_total",
                 "herald_store_reads_total", "herald_store_write_errors_total",
                 "herald_store_read_errors_total", "herald_store_rollbacks_total",
                 "herald_store_checkpoints_total"):
        assert types.get(name) == "counter", name
    assert types.get("herald_store_queue") == "gauge"
    assert types.get("herald_store_largest_group") == "gauge"
    w0 = value(samples, "herald_store_writes_total")
    c0 = value(samples, "herald_store_commits_total")
    r0 = value(samples, "herald_store_reads_total")
    assert http_get(server.port, "/api/v1/auth/me?user_id=metrics-" + uuid.uuid4().hex[:8]
                    ).status == 200
    assert http_get(server.port, "/health/ready").status == 200
    samples = scrape(server.port)[0]
    assert value(samples, "herald_store_writes_total") >= w0 + 1
    assert value(samples, "herald_store_commits_total") >= c0 + 1
    assert value(samples, "herald_store_reads_total") >= r0 + 1
    assert value(samples, "herald_store_queue", kind="write") == 0
    assert value(samples, "herald_store_queue", kind="read") == 0


@pytest.mark.store_independent
def test_metrics_request_counter_increases(server):
    http_get(server.port, "/health")
    before = value(scrape(server.port)[0], "herald_http_requests_total",
                   route="/health", status="200")
    assert before is not None and before >= 1
    for _ in range(3):
        http_get(server.port, "/health")
    after = value(scrape(server.port)[0], "herald_http_requests_total",
                  route="/health", status="200")
    assert after >= before + 3, (before, after)


@pytest.mark.store_independent
def test_metrics_counts_404(server):
    http_get(server.port, "/no/such/thing-" + uuid.uuid4().hex)
    samples = scrape(server.port)[0]
    n = value(samples, "herald_http_requests_total", status="404")
    assert n is not None and n >= 1


@pytest.mark.store_independent
def test_metrics_duration_histogram(server):
    http_get(server.port, "/health")
    samples = scrape(server.port)[0]
    name = "herald_http_request_duration_seconds"
    buckets = [(l["le"], v) for n, l, v in samples if n == name + "_bucket"]
    assert buckets, "no %s_bucket samples" % name
    les = [float("inf") if le == "+Inf" else float(le) for le, _ in buckets]
    assert les == sorted(les) and les[-1] == float("inf"), les
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "bucket counts must be cumulative: %r" % counts
    count = value(samples, name + "_count")
    total = value(samples, name + "_sum")
    assert count is not None and total is not None
    assert count >= 1 and total >= 0
    assert counts[-1] == count


@pytest.mark.store_independent
def test_metrics_ws_gauge_and_frame_counters(server):
    samples = scrape(server.port)[0]
    ws0 = value(samples, "herald_connections", kind="ws")
    fin0 = value(samples, "herald_ws_frames_total", direction="in")
    fout0 = value(samples, "herald_ws_frames_total", direction="out")
    bin0 = value(samples, "herald_ws_bytes_total", direction="in")
    bout0 = value(samples, "herald_ws_bytes_total", direction="out")
    ws = ws_open(server.port)
    try:
        for i in range(3):
            assert ws.ping("m%d" % i) == {"type": "pong", "id": "m%d" % i}
        def ws_gauge_up():
            smp = scrape(server.port)[0]
            return smp if value(smp, "herald_connections", kind="ws") == ws0 + 1 else None

        samples = wait_until(ws_gauge_up, what='herald_connections{kind="ws"} to go up by one')
        assert value(samples, "herald_ws_frames_total", direction="in") >= fin0 + 3
        assert value(samples, "herald_ws_frames_total", direction="out") >= fout0 + 4  # hello+3
        assert value(samples, "herald_ws_bytes_total", direction="in") > bin0
        assert value(samples, "herald_ws_bytes_total", direction="out") > bout0
        ws.send(ws_frame(OP_CLOSE, close_payload(1000)))
        ws.expect_close(1000)
    finally:
        ws.close()
    wait_until(lambda: value(scrape(server.port)[0], "herald_connections", kind="ws") == ws0,
               what="herald_connections{kind=\"ws\"} to go back down")


@pytest.mark.store_independent
def test_metrics_http_connection_gauge(server):
    base = value(scrape(server.port)[0], "herald_connections", kind="http")
    conns = [HttpConn(server.port) for _ in range(3)]
    try:
        for c in conns:
            c.request("GET", "/health")
            assert c.read_response().status == 200
        # the scrape itself is one more open http connection
        wait_until(lambda: value(scrape(server.port)[0], "herald_connections", kind="http")
                   >= base + 3, what="http connection gauge to rise")
    finally:
        for c in conns:
            c.close()
    wait_until(lambda: value(scrape(server.port)[0], "herald_connections", kind="http")
               <= base, what="http connection gauge to fall back")


# ------------------------------------------------------------------ strict exposition check

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|NaN)$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _label_set(text, where):
    """Parses the inside of {...}: name="value" pairs, comma-separated (a trailing comma is
    allowed), values with only the escapes \\\\, \\" and \\n. Returns a tuple of pairs."""
    pairs, i, n = [], 0, len(text)
    while i < n:
        m = LABEL_NAME.match(text, i)
        assert m, "%s: bad label name at %r" % (where, text[i:])
        name, i = m.group(0), m.end()
        assert text[i:i + 2] == '="', "%s: expected =\" after %s" % (where, name)
        i += 2
        val = []
        while True:
            assert i < n, "%s: unterminated label value" % where
            ch = text[i]
            if ch == "\\":
                assert i + 1 < n and text[i + 1] in '\\"n', "%s: bad escape %r" % (where, text[i:i + 2])
                val.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
                i += 2
            elif ch == '"':
                i += 1
                break
            else:
                assert ch != "\n", "%s: raw newline in a label value" % where
                val.append(ch)
                i += 1
        assert name not in [k for k, _ in pairs], "%s: label %s twice" % (where, name)
        pairs.append((name, "".join(val)))
        if i < n:
            assert text[i] == ",", "%s: expected , at %r" % (where, text[i:])
            i += 1
    return tuple(sorted(pairs))


def _family(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def strict_parse(text):
    """Parses a Prometheus text exposition (format 0.0.4) and fails on anything a strict
    parser refuses: malformed lines, HELP or TYPE twice for a family or after its samples, a
    family whose samples are not contiguous, the same name and label set twice, a bad label
    value escape, a value that is not a float, histogram buckets that are not cumulative or
    lack +Inf. Returns {(name, labels): value}."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    helps, types, seen, done_families = set(), {}, {}, set()
    current = None
    for no, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (no, line)
        assert line.strip() == line or line == "", "%s: surrounding blanks" % where
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert METRIC_NAME.fullmatch(name), "%s: bad metric name" % where
                assert name not in done_families and name != current, \
                    "%s: %s after the samples of %s" % (where, parts[1], name)
                if parts[1] == "HELP":
                    assert name not in helps, "%s: second HELP" % where
                    helps.add(name)
                    doc = parts[3] if len(parts) > 3 else ""
                    assert re.fullmatch(r'(?:[^\\\n]|\\[\\n])*', doc), "%s: bad HELP escape" % where
                else:
                    assert name not in types, "%s: second TYPE" % where
                    assert len(parts) == 4 and parts[3] in TYPES, "%s: bad TYPE" % where
                    types[name] = parts[3]
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)(?: (-?\d+))?", line)
        assert m, "%s: not a sample line" % where
        name, labels = m.group(1), _label_set(m.group(2) or "", where)
        assert FLOAT.match(m.group(3)), "%s: value is not a float" % where
        fam = _family(name, types)
        if fam != current:
            assert fam not in done_families, "%s: samples of %s are not contiguous" % (where, fam)
            if current is not None:
                done_families.add(current)
            current = fam
        key = (name, labels)
        assert key not in seen, "%s: %s with these labels appears twice" % (where, name)
        seen[key] = float(m.group(3).replace("Inf", "inf"))
    # histograms: cumulative buckets per label set, ending at +Inf == _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for (name, labels), v in seen.items():
            if name == fam + "_bucket":
                rest = tuple(p for p in labels if p[0] != "le")
                le = dict(labels)["le"]
                groups.setdefault(rest, []).append((float(le.replace("Inf", "inf")), v))
        for rest, bs in groups.items():
            bs.sort()
            assert bs[-1][0] == float("inf"), "%s%r: no +Inf bucket" % (fam, rest)
            counts = [v for _, v in bs]
            assert counts == sorted(counts), "%s%r: buckets not cumulative" % (fam, rest)
            assert seen.get((fam + "_count", rest)) == counts[-1], "%s: +Inf != _count" % fam
    return seen


@pytest.mark.store_independent
def test_strict_checker_catches_what_it_should():
    good = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 1\na_total{x="2"} 2\n')
    strict_parse(good)
    bad = {
        "duplicate": good + 'a_total{x="1"} 3\n',
        "second_type": good + "# TYPE a_total counter\n",
        "type_after_samples": 'a_total 1\n# TYPE a_total counter\n',
        "bad_escape": 'a{x="\\q"} 1\n',
        "bad_value": "a 1,5\n",
        "not_contiguous": 'a 1\nb 1\na{x="y"} 1\n',
    }
    for name, text in bad.items():
        with pytest.raises(AssertionError):
            strict_parse(text)
            print("accepted:", name)


@pytest.mark.store_independent
def test_metrics_exposition_is_strictly_valid_with_two_methods_on_a_route(server):
    # one route pattern answered for two methods (and two statuses), plus the usual traffic
    for method in ("GET", "DELETE", "PATCH", "GET"):
        http_request(server.port, method, "/api/v1/users/someone")
    http_get(server.port, "/health")
    http_get(server.port, "/no/such/thing")
    http_request(server.port, "POST", "/health")
    r = http_get(server.port, "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8", r
    samples = strict_parse(r.body.decode("utf-8"))
    route = "/api/v1/users/{id}"
    by_method = {dict(l).get("method"): v for (n, l), v in samples.items()
                 if n == "herald_http_requests_total" and dict(l).get("route") == route}
    assert by_method.get("GET") == 2 and by_method.get("DELETE") == 1, by_method
    assert by_method.get("PATCH") == 1, by_method


# ------------------------------------------------------------------ logs

@pytest.mark.store_independent
def test_access_log_line_per_request(server_factory):
    s = server_factory()
    assert http_get(s.port, "/health/live").status == 200
    line = s.wait_for_log(lambda l: "access" in l and "/health/live" in l)
    assert "GET" in line and "status=200" in line, line
    probe = "/log-probe-" + uuid.uuid4().hex
    for _ in range(3):
        assert http_get(s.port, probe).status == 404
    wait_until(lambda: sum(probe in l for l in s.stderr_text().splitlines()) >= 3,
               what="three access lines")
    time.sleep(0.3)
    lines = [l for l in s.stderr_text().splitlines() if probe in l]
    assert len(lines) == 3, "expected one access line per request:\n%s" % "\n".join(lines)
    assert all("access" in l and "status=404" in l for l in lines), lines


def test_json_log_format(server_factory):
    s = server_factory({"HERALD_LOG_FORMAT": "json", "HERALD_DEMO": "1"})
    assert http_get(s.port, "/health").status == 200
    assert http_get(s.port, "/nope").status == 404
    ws = ws_open(s.port)
    assert ws.ping(1) == {"type": "pong", "id": 1}
    ws.close()
    s.wait_for_log(lambda l: '"/nope"' in l)
    s.stop()
    lines = [l for l in s.stderr_text().splitlines() if l.strip()]
    assert lines, "no log lines"
    access = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError("stderr line is not JSON: %r" % line) from None
        assert isinstance(obj, dict), line
        assert "ts" in obj and "level" in obj, line
        assert "msg" in obj or {"method", "path", "status"} <= obj.keys(), line
        if {"method", "path", "status"} <= obj.keys():
            access.append(obj)
    assert any(a["method"] == "GET" and a["path"] == "/health" and str(a["status"]) == "200"
               for a in access), access
    assert any(a["path"] == "/nope" and str(a["status"]) == "404" for a in access), access


def test_json_log_format_covers_startup_warnings(server_factory):
    # an unknown HERALD_* variable produces a warning at start; with JSON logs it must be
    # a JSON line too (log shippers drop or choke on anything else)
    s = server_factory({"HERALD_LOG_FORMAT": "json", "HERALD_NO_SUCH_SETTING": "1"})
    assert http_get(s.port, "/health").status == 200
    s.stop()
    for line in s.stderr_text().splitlines():
        if line.strip():
            try:
                assert isinstance(json.loads(line), dict), line
            except ValueError:
                raise AssertionError("stderr line is not JSON with HERALD_LOG_FORMAT=json: %r"
                                     % line) from None


@pytest.mark.store_independent
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_token_query_never_logged(server_factory, fmt):
    s = server_factory({"HERALD_LOG_FORMAT": fmt, "HERALD_LOG_LEVEL": "debug"})
    http_get(s.port, "/health?token=secret123")
    http_get(s.port, "/nope?x=1&token=secret123&y=2")
    r, ws = ws_handshake(s.port, "/ws?token=secret123")
    assert r.status == 401, r  # not a valid token: refused, and still not logged
    ws.close()
    s.wait_for_log(lambda l: "/nope" in l)
    s.stop()
    text = s.stderr_text()
    assert "/health" in text, "no access log at all"
    assert "secret123" not in text, "token written to the log:\n%s" % "\n".join(
        l for l in text.splitlines() if "secret123" in l)


# ------------------------------------------------------------------ graceful shutdown

def connect_refused(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    s.close()
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown(server_factory, sig):
    s = server_factory({"HERALD_DEMO": "1"})
    ws = ws_open(s.port)
    http = HttpConn(s.port)
    try:
        http.request("GET", "/health")
        assert http.read_response().status == 200
        assert ws.ping("before") == {"type": "pong", "id": "before"}
        t0 = time.monotonic()
        s.proc.send_signal(sig)
        # the WebSocket gets close 1001 ("going away")
        while True:
            f = ws.recv_frame(timeout=8)
            if f.opcode == OP_CLOSE:
                break
        assert f.close_code == 1001, f
        try:
            ws.send(ws_frame(OP_CLOSE, close_payload(1001)))
        except OSError:
            pass
        ws.assert_eof(6)
        assert http.wait_closed(8), "idle HTTP connection not closed on shutdown"
        wait_until(lambda: connect_refused(s.port), timeout=8,
                   what="new connections to be refused")
        rc, _ = s.wait_exit(10)
        elapsed = time.monotonic() - t0
        assert rc == 0, "exit code %s\n%s" % (rc, s.stderr_tail())
        assert elapsed < 10, "shutdown took %.1fs" % elapsed
        s.assert_no_sanitizer_report()
    finally:
        ws.close()
        http.close()
        if s.proc.poll() is None:
            s.kill()


# ------------------------------------------------------------------ client address behind proxies
#
# With HERALD_TRUST_PROXY=1 the client address is the right-most X-Forwarded-For entry that is not
# a trusted proxy (HERALD_TRUSTED_PROXIES, default loopback only), walking from the connection's
# peer leftwards while the address in hand is trusted. Everything left of that entry was written
# by the client and is ignored.

def logged_peer(server, rid):
    line = server.wait_for_log(lambda l: "access" in l and rid in l)
    m = re.search(r"\bpeer=(\S+)", line)
    assert m, line
    return m.group(1)


def peer_for(server, xff_lines):
    """Sends one request with these X-Forwarded-For lines; returns the peer in its access line."""
    rid = "xff-" + uuid.uuid4().hex[:12]
    headers = [("X-Request-Id", rid)] + [("X-Forwarded-For", v) for v in xff_lines]
    with HttpConn(server.port) as c:
        c.send(build_request("GET", "/health/live", headers))
        assert c.read_response().status == 200
    return logged_peer(server, rid)


@pytest.mark.store_independent
def test_access_log_peer_honours_trusted_proxy_only(server_factory):
    xff = ["203.0.113.7, 10.0.0.1"]
    plain = server_factory()
    assert peer_for(plain, xff) == "127.0.0.1"  # HERALD_TRUST_PROXY off: headers ignored
    # on, default trusted set (loopback): 10.0.0.1 is the first address nobody vouches for
    trusted = server_factory({"HERALD_TRUST_PROXY": "1"})
    assert peer_for(trusted, xff) == "10.0.0.1"
    assert peer_for(trusted, ["203.0.113.7"]) == "203.0.113.7"


@pytest.mark.store_independent
def test_rotating_the_left_most_entry_does_not_change_the_client(server_factory):
    s = server_factory({"HERALD_TRUST_PROXY": "1"})
    # a proxy on loopback appends the address it saw; the client sends whatever it likes before
    peers = {peer_for(s, ["198.51.100.%d, 203.0.113.7" % i]) for i in range(1, 6)}
    peers.add(peer_for(s, ["2001:db8::%x, 203.0.113.7" % 5]))
    peers.add(peer_for(s, ["not an address, 203.0.113.7"]))
    assert peers == {"203.0.113.7"}, peers


@pytest.mark.store_independent
def test_forged_chain_right_most_untrusted_entry_is_the_client(server_factory):
    s = server_factory({"HERALD_TRUST_PROXY": "1",
                        "HERALD_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, 2001:db8:1::/48"})
    # client 203.0.113.7 forged two entries; proxies 10.1.2.3 and 2001:db8:1::5 appended theirs
    assert peer_for(s, ["1.1.1.1, 8.8.8.8, 203.0.113.7, 10.1.2.3, 2001:db8:1::5"]) == "203.0.113.7"
    # the same chain spread over several header lines, in order
    assert peer_for(s, ["1.1.1.1, 8.8.8.8", "203.0.113.7, 10.1.2.3", "2001:db8:1::5"]) \
        == "203.0.113.7"
    # an IPv6 client, written in a non-canonical form, logged canonically
    assert peer_for(s, ["1.1.1.1, 2001:DB8:2:0::7, 10.1.2.3"]) == "2001:db8:2::7"
    # a forged entry that claims to be a trusted proxy does not hide the real client
    assert peer_for(s, ["10.9.9.9, 203.0.113.7, 10.1.2.3"]) == "203.0.113.7"
    # garbage where a trusted proxy's entry should be: the last trusted hop is all we know
    assert peer_for(s, ["203.0.113.7, junk, 10.1.2.3"]) == "10.1.2.3"
    # every entry trusted: the left-most one is the client
    assert peer_for(s, ["10.0.0.5, 10.0.0.6"]) == "10.0.0.5"


@pytest.mark.store_independent
def test_forwarded_for_ignored_from_an_untrusted_peer(server_factory):
    s = server_factory({"HERALD_TRUST_PROXY": "1", "HERALD_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert peer_for(s, ["203.0.113.7"]) == "127.0.0.1"


def test_per_address_login_limit_not_defeated_by_rotating_the_left_most_entry(server_factory):
    s = server_factory({"HERALD_TRUST_PROXY": "1"})
    codes = []
    for i in range(200):  # the per-address bucket holds 100 failures a minute
        body = json.dumps({"username": "spray%d" % i, "password": "guess"}).encode()
        r = http_request(s.port, "POST", "/api/v1/auth/login", body=body, timeout=30, headers={
            "Content-Type": "application/json",
            "X-Forwarded-For": "198.51.%d.%d, 203.0.113.7" % (i // 250, i % 250 + 1)})
        codes.append(r.status)
        if r.status != 401:
            break
    assert codes[-1] == 429 and 100 <= len(codes) < 200, codes
    # another client behind the same proxy is not limited
    body = json.dumps({"username": "someone", "password": "guess"}).encode()
    r = http_request(s.port, "POST", "/api/v1/auth/login", body=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Forwarded-For": "203.0.113.8"})
    assert r.status == 401, r


@pytest.mark.store_independent
@pytest.mark.parametrize("value,why", [
    ("10.0.0.0/33", "prefix"),
    ("10.0.0.1/8", "10.0.0.0/8"),
    ("localhost", "localhost"),
    ("10.0.0.0/8,,", "empty"),
    ("", "empty"),
    ("::1/129", "prefix"),
])
def test_trusted_proxies_validated_at_start(value, why):
    env = {"HERALD_TRUSTED_PROXIES": value, "HERALD_LISTEN": "127.0.0.1:0"}
    for cmd in (["check-config"], ["serve"]):
        p = run_herald(cmd, env=env)
        assert p.returncode != 0, (cmd, p)
        assert "HERALD_TRUSTED_PROXIES" in p.stderr and why in p.stderr, (cmd, p.stderr)


@pytest.mark.store_independent
def test_trusted_proxies_default_and_normalized():
    p = run_herald(["check-config"])
    assert p.returncode == 0, p
    assert "HERALD_TRUSTED_PROXIES=127.0.0.0/8,::1/128" in p.stdout.splitlines(), p.stdout
    p = run_herald(["check-config"],
                   env={"HERALD_TRUSTED_PROXIES": " 10.1.2.3 , fd00::/8,192.168.0.0/16 "})
    assert p.returncode == 0, p
    assert "HERALD_TRUSTED_PROXIES=10.1.2.3/32,fd00::/8,192.168.0.0/16" in p.stdout.splitlines(), \
        p.stdout
