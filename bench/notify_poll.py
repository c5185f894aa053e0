#!/usr/bin/env python3
"""bench/notify_poll.py - the server side of bench/notify.sh fanout: waits for the first
notification of TYPE to exist, then polls its deliveries until none is pending or sending
(every in-app push done), and prints one JSON object:

  {"notification_id", "deliveries": total, "all_pushed_s": seconds from the notification's
   created_at to the first poll that saw no pending or sending delivery (resolution: the
   poll interval), "status": {status: count} at that moment, "polls"}

  notify_poll.py PORT APP_TOKEN TYPE [TIMEOUT_S=60] [INTERVAL_S=0.05]

Reads GET /api/v1/notifications?type= and GET /api/v1/deliveries?notification_id=&status=
(page_size=1: only `count` is used) with the app token. Exit 1 on a timeout.
"""
import http.client
import json
import sys
import time

STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed", "dead", "skipped",
            "cancelled", "expired")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    port, token, typ = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Authorization": "Bearer " + token}

    def get(path):
        c.request("GET", path, headers=hdr)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit("notify_poll: GET %s -> %d %s" % (path, r.status, body[:200]))
        return json.loads(body)

    deadline = time.time() + timeout
    nid = None
    while nid is None:
        res = get("/api/v1/notifications?type=%s&page_size=1" % typ)["results"]
        if res:
            nid, created = res[0]["id"], res[0]["created_at"] / 1000.0
            break
        if time.time() > deadline:
            sys.exit("notify_poll: no notification of type %s" % typ)
        time.sleep(interval)
    polls = 0
    base = "/api/v1/deliveries?notification_id=%s&page_size=1" % nid
    while True:
        polls += 1
        busy = sum(get(base + "&status=" + s)["count"] for s in ("pending", "sending"))
        now = time.time()
        if busy == 0:
            break
        if now > deadline:
            print(json.dumps({"notification_id": nid, "timeout": True, "busy": busy}))
            sys.exit(1)
        time.sleep(interval)
    status = {s: get(base + "&status=" + s)["count"] for s in STATUSES}
    status = {k: v for k, v in status.items() if v}
    total = get(base)["count"]
    print(json.dumps({"notification_id": nid, "deliveries": total,
                      "all_pushed_s": round(now - created, 3), "status": status,
                      "polls": polls}))


if __name__ == "__main__":
    main()
