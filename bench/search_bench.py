#!/usr/bin/env python3
"""bench/search_bench.py - message search over N messages (issue 10, BENCHMARKS.md "Issue 10:
search"). Target on SQLite: p99 <= 50 ms for a two-character Chinese query and for a
three-word English query over 1,000,000 messages, half of them Chinese.

  bench/search_bench.py HERALD_BIN [N=1000000]
  CONVS=2000 MINE=100 REQS=200 bench/search_bench.py build/release/herald

1. Starts the server (release build, temporary data folder) once, which migrates the store,
   and makes through the API the users, CONVS group conversations (the searching user `me`
   is a member of MINE of them) and `me`'s access token. Stops it.
2. Fills `messages` with N text messages directly with Python's sqlite3, in one transaction
   (CONVS conversations, N/CONVS each, sent in turn), half Chinese, half English, words drawn
   from a Zipf distribution over a small vocabulary; and lists them in message_search_pending,
   as migration 013 lists the messages written before it.
3. Starts the server again: at start-up it indexes the pending messages with the same C code
   and statements as a send (chat__search_backfill), before it listens. The time this takes is
   reported.
4. Sends REQS requests of each query, one after the other on one keep-alive connection
   (http.client), after 20 of warm-up, and reports p50/p99/max and the hit counts; then the
   size of the index (dbstat: message_search and the message_fts tables) and of the file.
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

BIN = os.path.realpath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
CONVS = int(os.environ.get("CONVS", "2000"))
MINE = int(os.environ.get("MINE", "100"))
REQS = int(os.environ.get("REQS", "200"))
USERS = 200
Q_ZH = "订单"
Q_EN = "please check delivery"

ZH = ("我们 你们 他们 这个 那个 什么 怎么 为什么 可以 没有 已经 现在 今天 明天 昨天 时候 问题 "
      "谢谢 你好 知道 觉得 需要 应该 因为 所以 但是 如果 还是 或者 一起 一下 一点 一些 东西 "
      "地方 工作 公司 客户 服务 产品 价格 支付 退款 发货 快递 物流 地址 电话 信息 系统 账号 "
      "密码 登录 注册 订单 商品 购买 优惠 活动 时间 会员 积分 评价 售后 质量 颜色 尺寸 库存 "
      "包装 收到 确认 取消 修改 查询 联系 处理 解决 满意 希望 帮助 提供 可能 马上 稍等 抱歉 "
      "感谢 朋友 家里 学校 老师 学生 中国 北京 上海 广州 深圳 天气 下雨 周末 晚上 早上 中午 "
      "吃饭 喝水 咖啡 手机 电脑 网络 视频 图片 文件 消息 邮件 会议 项目 计划 报告 数据 结果 "
      "开始 结束 继续 重要 简单 方便 快乐 生日 节日 旅游 酒店 机票 火车 地铁 医院 银行 超市 "
      "市场 经济 发展 社会 文化 历史 音乐 电影 游戏 运动 健康 身体 心情 今年 去年 明年").split()
EN = ("the to and a of is you for it in your we this that be on with can order please have "
      "will not are my be at as thanks hello check if our do me so just all know get would "
      "delivery time when one what about there any help need like back up out more refund "
      "account today address number payment status shipping item product price send sent "
      "received issue problem customer service support team update ticket tomorrow week "
      "morning evening email phone call store package tracking return exchange size color "
      "stock available sorry great good thank okay sure right now still wait waiting soon "
      "quick question answer information details change cancel confirm invoice discount "
      "coupon member points review quality warranty replace broken damaged missing wrong "
      "correct new old first last next message reply chat agent manager office city street "
      "weekend holiday friday monday price list plan project meeting report data result").split()


def zipf_weights(n):
    return [1.0 / (i + 1) for i in range(n)]


def start(data, log):
    env = dict(os.environ, HERALD_LISTEN="127.0.0.1:0", HERALD_DATA_DIR=data,
               HERALD_LOG_LEVEL="info", HERALD_ACCESS_TTL="4h")
    out = open(log, "w")
    p = subprocess.Popen([BIN, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    t0 = time.time()
    while True:
        text = open(log).read()
        m = re.search(r"listening on [\d.]+:(\d+)", text)
        if m:
            return p, int(m.group(1)), time.time() - t0
        if p.poll() is not None:
            sys.exit("search_bench: the server stopped:\n" + text[-2000:])
        time.sleep(0.2)


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def call(conn, method, path, headers, body=None):
    conn.request(method, path, None if body is None else json.dumps(body), headers)
    r = conn.getresponse()
    raw = r.read()
    if r.status not in (200, 201):
        sys.exit("search_bench: %s %s -> %d %s" % (method, path, r.status, raw[:300]))
    return json.loads(raw)


def setup(data, work):
    p, port, _ = start(data, os.path.join(work, "setup.log"))
    try:
        env = dict(os.environ, HERALD_DATA_DIR=data, HERALD_LOG_LEVEL="warn")
        out = subprocess.run([BIN, "app", "secret", "default"], env=env, check=True,
                             capture_output=True, text=True).stdout
        secret = re.search(r"^secret=(\S+)", out, re.M).group(1)
        app = {"X-App-Key": "default", "X-App-Secret": secret,
               "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        users = ["me"] + ["u%d" % i for i in range(USERS)]
        for i in range(0, len(users), 100):
            call(conn, "POST", "/api/v1/users/batch", app,
                 {"users": [{"id": u} for u in users[i:i + 100]]})
        tokens = {u: call(conn, "POST", "/api/v1/users/%s/tokens" % u, app)["access_token"]
                  for u in ("me", "u0")}
        for i in range(CONVS):
            owner = "me" if i < MINE else "u%d" % (i % USERS)
            peer = "u%d" % ((i + 1) % USERS)
            tok = tokens["me"] if owner == "me" else tokens.setdefault(
                owner, call(conn, "POST", "/api/v1/users/%s/tokens" % owner,
                            app)["access_token"])
            call(conn, "POST", "/api/v1/conversations",
                 {"Authorization": "Bearer " + tok, "Content-Type": "application/json"},
                 {"type": "group", "name": "g%d" % i, "members": [peer]})
        return tokens["me"]
    finally:
        stop(p)


def fill(db):
    rnd = random.Random(10)
    zw, ew = zipf_weights(len(ZH)), zipf_weights(len(EN))
    c = sqlite3.connect(db)
    convs = [r[0] for r in c.execute("SELECT id FROM conversations ORDER BY created_at")]
    owners = dict(c.execute("SELECT id, owner FROM conversations"))
    apps = dict(c.execute("SELECT id, app_id FROM conversations"))
    per = N // len(convs)
    t0 = time.time()
    now = int(time.time() * 1000) - N
    c.execute("BEGIN")
    rows = []
    k = 0
    for seq in range(1, per + 1):
        for conv in convs:
            if k % 2 == 0:
                text = "".join(rnd.choices(ZH, zw, k=rnd.randint(3, 12)))
                if rnd.random() < 0.3:
                    text += "，" + "".join(rnd.choices(ZH, zw, k=rnd.randint(2, 6))) + "。"
            else:
                text = " ".join(rnd.choices(EN, ew, k=rnd.randint(4, 18))).capitalize() + "."
            at = now + k
            mid = "m%012x%012x" % (at & 0xFFFFFFFFFFFF, rnd.getrandbits(48))
            rows.append((mid, apps[conv], conv, seq, owners[conv], "text",
                         json.dumps(text, ensure_ascii=False), at))
            k += 1
            if len(rows) == 50000:
                c.executemany("INSERT INTO messages (id, app_id, conversation_id, seq, sender_id,"
                              " type, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                rows = []
    if rows:
        c.executemany("INSERT INTO messages (id, app_id, conversation_id, seq, sender_id, type,"
                      " content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    c.execute("UPDATE conversations SET last_seq = ?", (per,))
    c.execute("INSERT INTO message_search_pending (message_id) SELECT id FROM messages WHERE"
              " type = 'text'")
    c.execute("COMMIT")
    n = c.execute("SELECT count(*) FROM messages").fetchone()[0]
    c.close()
    print("filled %d messages in %d conversations in %.1f s" % (n, len(convs), time.time() - t0))
    return n


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def measure(port, token, q):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Authorization": "Bearer " + token}
    path = "/api/v1/search/messages?" + urllib.parse.urlencode({"q": q})
    for _ in range(20):
        body = call(conn, "GET", path, h)
    times = []
    for _ in range(REQS):
        t0 = time.perf_counter()
        call(conn, "GET", path, h)
        times.append((time.perf_counter() - t0) * 1000)
    print("q=%-24s count=%-5d first page=%d  p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d requests)"
          % (json.dumps(q, ensure_ascii=False), body["count"], len(body["results"]),
             pct(times, 50), pct(times, 99), max(times), REQS))
    return body


def sizes(db):
    c = sqlite3.connect(db)
    rows = c.execute("SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%' OR"
                     " name LIKE 'message_fts%' OR name = 'sqlite_autoindex_message_search_1'"
                     " GROUP BY name ORDER BY 2 DESC").fetchall()
    msgs = c.execute("SELECT sum(pgsize) FROM dbstat WHERE name IN ('messages',"
                     " 'sqlite_autoindex_messages_1', 'sqlite_autoindex_messages_2',"
                     " 'sqlite_autoindex_messages_3')").fetchone()[0]
    c.close()
    total = sum(r[1] for r in rows)
    for name, size in rows:
        print("  %-40s %8.1f MB" % (name, size / 1e6))
    print("index total %.1f MB (%.0f bytes per message); messages table and its indexes %.1f MB;"
          " file %.1f MB" % (total / 1e6, total / max(N, 1), msgs / 1e6,
                             os.path.getsize(db) / 1e6))


def main():
    work = tempfile.mkdtemp(prefix="search-bench-", dir=os.environ.get("TMPDIR"))
    data = os.path.join(work, "data")
    try:
        token = setup(data, work)
        db = os.path.join(data, "herald.db")
        fill(db)
        p, port, took = start(data, os.path.join(work, "serve.log"))
        print("start-up with indexing of the pending messages: %.1f s" % took)
        try:
            measure(port, token, Q_ZH)
            measure(port, token, Q_EN)
        finally:
            stop(p)
        sizes(db)
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept " + work)


if __name__ == "__main__":
    main()
