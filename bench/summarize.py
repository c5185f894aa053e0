#!/usr/bin/python3
"""Turns bench/run.sh's results.tsv into the markdown summary (medians, ratios, every run).

usage: summarize.py RESULTS_TSV HTTP_CONNS HTTP_PATH CONNS RATE REPS DUR SPIN
Each results.tsv line: scenario, target, tool, repetition, JSON of one herald-bench or wrk run.
"""
import json, statistics, subprocess, sys, time

res, http_conns, http_path, conns, rate, reps, dur, spin = sys.argv[1:9]
rows = {}
runs = []
for line in open(res):
    sc, tg, tool, rep, js = line.rstrip("\n").split("\t", 4)
    try:
        d = json.loads(js)
    except ValueError:
        d = {"error": "unparsable output"}
    rows.setdefault((sc, tg, tool), []).append(d)
    runs.append((sc, tg, tool, rep, d))

def clean(d):
    return (d.get("others_cpu_pct") or 0) <= 15


def med(sc, tg, tool, key):
    """Median over the runs without CPU contention when there are any, else over all runs."""
    ds = [d for d in rows.get((sc, tg, tool), []) if "error" not in d]
    if any(clean(d) for d in ds):
        ds = [d for d in ds if clean(d)]
    vals = [d[key] for d in ds if d.get(key) is not None]
    return statistics.median(vals) if vals else None

def failed(sc, tg, tool):
    ds = rows.get((sc, tg, tool), [])
    if not ds:
        return None
    errs = [d.get("error") or ",".join("%s=%s" % kv for kv in d.get("errors_by_reason", {}).items())
            for d in ds]
    return "; ".join(e for e in errs if e) or "failed"

def tainted(sc, tg, tool):
    """True when every run of this cell had CPU contention (marked * in the table)."""
    ds = [d for d in rows.get((sc, tg, tool), []) if "error" not in d]
    return bool(ds) and not any(clean(d) for d in ds)


def mark(sc, tg, tool):
    return " *" if tainted(sc, tg, tool) else ""


def f(v, nd=0, unit=""):
    if v is None:
        return "n/a"
    s = "{:,.{}f}".format(v, nd).replace(",", " ")
    return s + unit

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "n/a"

try:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    rev = "?"
print("## Herald benchmark, %s, commit %s" % (time.strftime("%Y-%m-%d %H:%M"), rev or "?"))
print()
print("Median of %s repetition(s) (of two: their mean); %s s windows; server on one CPU, load "
      "generator on the other; every figure from a fresh server; spinners %s. Ratios are "
      "Herald / peer (rates: higher is better for Herald; latency: lower is). Latency on this VM "
      "varies a lot between runs: check the repetitions below before trusting one cell."
      % (reps, dur, "on" if spin == "1" else "off"))
print()
print("| scenario | Herald | peer | Herald / peer |")
print("|---|---|---|---|")

def http_cell(tg, tool):
    rps = med("http", tg, tool, "rps")
    if rps is None:
        return failed("http", tg, tool) and "failed: " + failed("http", tg, tool) or "n/a", None
    return "%s req/s (p50 %s, p99 %s ms)%s" % (f(rps), f(med("http", tg, tool, "p50_ms"), 2),
                                                 f(med("http", tg, tool, "p99_ms"), 2),
                                                 mark("http", tg, tool)), rps

for tool in ("herald-bench", "wrk"):
    if ("http", "herald", tool) not in rows:
        continue
    h, hr = http_cell("herald", tool)
    if ("http", "nginx", tool) in rows:
        p, pr = http_cell("nginx", tool)
        p = "nginx: " + p
    else:
        p, pr = "n/a", None
    star = " *" if tainted("http", "herald", tool) or tainted("http", "nginx", tool) else ""
    print("| HTTP GET %s, %s conns, %s | %s | %s | %s |" % (http_path, http_conns, tool, h, p,
                                                         ratio(hr, pr) + star))

idle = sorted({sc for (sc, tg, tool) in rows if sc.startswith("idle-")}, key=lambda x: int(x[5:]))
for sc in idle:
    k = med(sc, "herald", "herald-bench", "kib_per_conn")
    c = med(sc, "herald", "herald-bench", "connected")
    if k is None:
        cell = "failed: %s" % failed(sc, "herald", "herald-bench")
    else:
        cell = "%s KiB/conn (%s connected in %s s)" % (f(k, 2), f(c), f(med(sc, "herald", "herald-bench", "connect_s"), 2))
    print("| idle WebSocket, %s conns | %s | n/a | n/a |" % (sc[5:], cell))

def ping_cell(sc, tg, tool, maxrow):
    r = med(sc, tg, tool, "rate")
    if r is None or r == 0:
        return "failed: %s" % failed(sc, tg, tool), None, None
    p50, p99 = med(sc, tg, tool, "p50_ms"), med(sc, tg, tool, "p99_ms")
    loss = med(sc, tg, tool, "loss_pct")
    m = mark(sc, tg, tool)
    if maxrow:
        return "%s msg/s (p50 %s ms)%s" % (f(r), f(p50, 2), m), r, p99
    return ("%s msg/s, p50 %s, p99 %s ms, loss %s %%%s" % (f(r), f(p50, 3), f(p99, 3), f(loss, 2), m),
            r, p99)

for r in ("0", rate):
    sc = "ping-" + r
    if (sc, "herald", "herald-bench") not in rows:
        continue
    maxrow = r == "0"
    h, hr, h99 = ping_cell(sc, "herald", "herald-bench", maxrow)
    if (sc, "ceiling", "herald-bench") in rows:
        p, pr, p99 = ping_cell(sc, "ceiling", "herald-bench", maxrow)
        p = "ceiling (raw TCP echo): " + p
    else:
        p, pr, p99 = "n/a", None, None
    name = "max (closed loop)" if maxrow else "%s/s open loop" % r
    rat = ratio(hr, pr) if maxrow else ("p99 x%s" % ratio(h99, p99) if h99 is not None and p99 else "n/a")
    if tainted(sc, "herald", "herald-bench") or tainted(sc, "ceiling", "herald-bench"):
        rat += " *"
    print("| WS ping->pong %s, %s conns | %s | %s | %s |" % (name, conns, h, p, rat))

print()
def order(r):
    sc = r[0]
    num = int(sc.split("-")[1]) if sc.split("-")[-1].isdigit() else 0
    return (sc.split("-")[0], num, r[1], r[2], r[3])

busy = [r for r in runs if (r[4].get("others_cpu_pct") or 0) > 15]
if busy:
    print("**Warning:** other processes used more than 15 %% of a CPU during %d of %d runs "
          "(column 'others cpu %%', rows marked with *): those figures measure a shared machine, "
          "not the servers. The table above uses the clean runs where a cell has any and marks "
          "cells (and ratios) that had none with *; rerun when the machine is idle." % (len(busy), len(runs)))
    print()
print("Every repetition:")
print()
print("| scenario | target | tool | rep | rate/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | loss % | KiB/conn | server cpu % | client cpu % | steal % | others cpu % |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (sc, tg, tool, rep, d) in sorted(runs, key=order):
    if (d.get("others_cpu_pct") or 0) > 15:
        rep += " *"
    g = lambda k, nd=2: f(d.get(k), nd) if "error" not in d else "n/a"
    rate_v = d.get("rps", d.get("rate"))
    err = d.get("error")
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        sc, tg, tool, rep, f(rate_v) if not err else "failed: " + err, g("p50_ms", 3),
        g("p90_ms", 3), g("p99_ms", 3), g("p999_ms", 3), g("max_ms", 1), g("errors", 0),
        g("loss_pct", 3), g("kib_per_conn"), g("server_cpu_pct", 1), g("client_cpu_pct", 1),
        g("steal_pct", 1), g("others_cpu_pct", 1)))
