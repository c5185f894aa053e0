#!/usr/bin/python3
"""Upload load against Herald: N clients upload a large multipart body each, over and over, to
POST /api/v1/uploads while another process measures GET /health latency at a fixed rate and
this one samples the server's memory. Reports upload throughput, /health p50/p99 (idle, then
under the upload load) and the server's peak RSS.

    bench/upload_bench.py --bin build/release/herald [--clients 4] [--seconds 10] [--pin]
    bench/upload_bench.py --url http://127.0.0.1:8080 --pid 1234 [...]

With --bin a fresh server is started on 127.0.0.1 (random port) with a throwaway data folder,
HERALD_DEMO=1 (uploads authenticate with ?user_id=) and HERALD_UPLOAD_RATE=0 (no per-user
upload limit), and stopped at the end (TERM, by its pid). With --url/--pid the server is
yours: it must run with HERALD_DEMO=1 and an upload rate that allows the load (each client
uploads as its own user, b1..bN).

Bodies: --kind zip (default) sends a ZIP local-file signature followed by random bytes, which
the server stores without decoding; --kind png sends a real, incompressible RGB PNG of about
the same size, which is also decoded for its thumbnail. The file part is --size bytes
(10,000,000 by default: under the default HERALD_MAX_UPLOAD of 10 MiB).

/health is requested on one keep-alive connection in a separate process at --health-rate
requests/s; each latency is counted from the request's scheduled time, so a stalled server
shows up as latency instead of as fewer samples. RSS is read from /proc/PID/status (VmRSS every
20 ms, and VmHWM, the kernel's own peak, at the end).
"""
import argparse
import binascii
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

BOUNDARY = "herald-bench-7d1f0c2a9b"


# ----------------------------------------------------------------------------- bodies

def zip_payload(size):
    return b"PK\x03\x04" + os.urandom(size - 4)


def png_payload(size):
    """An RGB PNG of random pixels, stored uncompressed (zlib level 0), of about size bytes."""
    side = max(16, int(((size - 1024) / 3) ** 0.5))
    row = 1 + side * 3
    raw = bytearray()
    noise = os.urandom(row * 64)
    for y in range(side):
        off = (y * 7919) % (len(noise) - row)
        raw += b"\x00" + noise[off:off + row - 1]

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", binascii.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 0)) + chunk(b"IEND", b""))


def multipart(payload, filename):
    head = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (BOUNDARY, filename)).encode()
    return head + payload + ("\r\n--%s--\r\n" % BOUNDARY).encode()


# ----------------------------------------------------------------------------- server

def start_server(binary, workdir, cpu=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_LISTEN="127.0.0.1:0", HERALD_DATA_DIR=os.path.join(workdir, "data"),
               HERALD_DEMO="1", HERALD_UPLOAD_RATE="0", HERALD_LOG_LEVEL="warn")
    os.makedirs(env["HERALD_DATA_DIR"])
    out = open(os.path.join(workdir, "server.out"), "w+")
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    proc = subprocess.Popen(pin + [binary, "serve"], stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        out.seek(0)
        m = re.search(r"listening on \S*:(\d+)", out.read())
        if m:
            return proc, "http://127.0.0.1:%s" % m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    out.seek(0)
    sys.exit("server did not start:\n" + out.read())


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max_rss, self.stop = pid, 0, threading.Event()

    def read(self, key):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def run(self):
        while not self.stop.is_set():
            self.max_rss = max(self.max_rss, self.read("VmRSS"))
            time.sleep(0.02)


# ----------------------------------------------------------------------------- health prober

def health_prober(host, port, rate, phases, out_q):
    """Runs in its own process: for each (label, seconds) phase, GET /health at rate/s. It asks
    for a higher scheduling priority (nice -10, when allowed): on a small machine the uploading
    threads of this same load generator would otherwise delay the probe itself, and that delay
    would be counted as the server's."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for label, seconds in phases:
        lat, errors = [], 0
        interval = 1.0 / rate
        start = time.monotonic()
        n = int(seconds * rate)
        for i in range(n):
            due = start + i * interval
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            try:
                conn.request("GET", "/health")
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            lat.append((time.monotonic() - due) * 1000.0)
        out_q.put((label, lat, errors))
    conn.close()


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# ----------------------------------------------------------------------------- uploaders

def uploader(host, port, user, body, file_size, stop_at, stats, lock):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "multipart/form-data; boundary=%s" % BOUNDARY,
               "Content-Length": str(len(body))}
    path = "/api/v1/uploads?user_id=%s" % urllib.parse.quote(user)
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        try:
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            answer = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            status, answer = "error: %s" % e.__class__.__name__, b""
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
        t1 = time.monotonic()
        with lock:
            stats["status"][str(status)] = stats["status"].get(str(status), 0) + 1
            if status == 201:
                stats["ok"] += 1
                try:
                    stats["thumbs"] += "thumbnail_url" in json.loads(answer)
                except ValueError:
                    pass
                stats["bytes"] += file_size
                stats["lat"].append((t1 - t0) * 1000.0)
            elif "first_error" not in stats:
                stats["first_error"] = "%s %s" % (status, answer[:200].decode("utf-8", "replace"))
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="herald binary to start (fresh data folder)")
    ap.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8080")
    ap.add_argument("--pid", type=int, help="its pid (for RSS), with --url")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0, help="upload phase length")
    ap.add_argument("--idle-seconds", type=float, default=3.0, help="/health-only phase first")
    ap.add_argument("--size", type=int, default=10_000_000, help="bytes of the file part")
    ap.add_argument("--kind", choices=("zip", "png"), default="zip")
    ap.add_argument("--health-rate", type=float, default=200.0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    ap.add_argument("--pin", action="store_true",
                    help="with --bin: the server on the last CPU, this load generator on the "
                         "others (as the peer benchmarks run: the generator's own CPU use does "
                         "not count against the server)")
    args = ap.parse_args()
    if bool(args.bin) == bool(args.url) or (args.url and not args.pid):
        ap.error("give --bin, or --url with --pid")
    if args.clients < 1 or args.size < 64 or args.health_rate <= 0:
        ap.error("--clients >= 1, --size >= 64, --health-rate > 0")

    workdir = tempfile.mkdtemp(prefix="upload-bench-")
    proc = None
    try:
        if args.bin:
            cpus = sorted(os.sched_getaffinity(0))
            server_cpu = cpus[-1] if args.pin and len(cpus) > 1 else None
            proc, url = start_server(os.path.realpath(args.bin), workdir, server_cpu)
            if server_cpu is not None:
                os.sched_setaffinity(0, cpus[:-1])  # the prober and the uploaders inherit it
            pid = proc.pid
        else:
            url, pid = args.url, args.pid
        u = urllib.parse.urlsplit(url)
        host, port = u.hostname, u.port or 80

        payload = zip_payload(args.size) if args.kind == "zip" else png_payload(args.size)
        body = multipart(payload, "bench.%s" % args.kind)
        file_size = len(payload)

        sampler = RssSampler(pid)
        rss_start = sampler.read("VmRSS")
        sampler.start()

        q = multiprocessing.Queue()
        phases = [("idle", args.idle_seconds), ("load", args.seconds)]
        prober = multiprocessing.Process(target=health_prober,
                                         args=(host, port, args.health_rate, phases, q))
        prober.start()
        results = {}
        label, lat, errors = q.get()
        results[label] = (lat, errors)

        stats = {"ok": 0, "thumbs": 0, "bytes": 0, "lat": [], "status": {}}
        lock = threading.Lock()
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        threads = [threading.Thread(target=uploader,
                                    args=(host, port, "b%d" % (i + 1), body, file_size, stop_at,
                                          stats, lock))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        label, lat, errors = q.get()
        results[label] = (lat, errors)
        prober.join()
        sampler.stop.set()
        sampler.join()
        hwm = sampler.read("VmHWM")

        report = {
            "clients": args.clients, "kind": args.kind, "file_bytes": file_size,
            "body_bytes": len(body), "seconds": round(elapsed, 2),
            "uploads_ok": stats["ok"], "with_thumbnail": stats["thumbs"],
            "statuses": stats["status"],
            "throughput_MBps": round(stats["bytes"] / elapsed / 1e6, 1),
            "upload_ms_p50": round(pct(stats["lat"], 50), 1),
            "upload_ms_p99": round(pct(stats["lat"], 99), 1),
            "rss_start_kib": rss_start, "rss_max_sampled_kib": sampler.max_rss,
            "vmhwm_kib": hwm,
        }
        for label, (lat, errors) in results.items():
            report["health_%s" % label] = {
                "n": len(lat), "errors": errors, "p50_ms": round(pct(lat, 50), 2),
                "p99_ms": round(pct(lat, 99), 2), "max_ms": round(max(lat) if lat else 0, 2)}
        if "first_error" in stats:
            report["first_error"] = stats["first_error"]
        if args.json:
            print(json.dumps(report))
        else:
            print("uploads: %d clients x %s bodies of %d bytes for %.1f s: %d ok %s, %.1f MB/s "
                  "(per upload p50 %.0f ms, p99 %.0f ms); %d answers with a thumbnail_url"
                  % (args.clients, args.kind, file_size, elapsed, stats["ok"],
                     json.dumps(stats["status"]), report["throughput_MBps"],
                     report["upload_ms_p50"], report["upload_ms_p99"], stats["thumbs"]))
            for label in ("idle", "load"):
                h = report["health_" + label]
                print("GET /health %-4s at %g/s: n=%d errors=%d p50 %.2f ms p99 %.2f ms max %.2f ms"
                      % (label, args.health_rate, h["n"], h["errors"], h["p50_ms"], h["p99_ms"],
                         h["max_ms"]))
            print("server RSS: %d KiB at start, %d KiB max sampled, VmHWM %d KiB"
                  % (rss_start, sampler.max_rss, hwm))
            if "first_error" in report:
                print("first refused upload: " + report["first_error"])
        return 0 if stats["ok"] > 0 else 1
    finally:
        if proc is not None:
            stop_server(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
