"""
Message search (issue 10, docs/chat.md "Search"): GET /search/messages for end users over the
conversations they belong to (from the seq they joined at) and for operators holding
conversations:monitor over one app (app_id); words, Chinese and Japanese (two characters
too), mixed queries; the snippet; recall and edit keep the index; paging, ranking, limits.
"""
import sqlite3
import subprocess
import time
import urllib.parse

import pytest

from conftest import PG_URL, Server, module_server, pg_database_for
from test_conversations import App, app_headers, error_of
from test_edit_recall import edit, operator, operator_call, recall, root_token
from test_guarantees import run_senders
from test_messages import direct, group, send
from test_quick_replies import app_id
from test_retention import DAYS_40_MS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("alice", "bob", "carol", "dave")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherSearch"))
    a.users("alice", "bob")
    return a


@pytest.fixture(scope="module")
def root(server):
    return root_token(server, "boss-s")


def query(**params):
    return "/search/messages?" + urllib.parse.urlencode(params)


_settles = [0]


def settle(app):
    """Waits for the search indexer (docs/chat.md, "Search": a sent text message is indexed in
    a batch within a moment): a sentinel message sent now is searchable only once everything
    listed before it is indexed too (the indexer takes the list in id order, ids grow with
    time)."""
    conv = getattr(app, "settle_conv", None)
    if conv is None:
        app.users("zzsettle", "zzsettle2")
        conv = app.settle_conv = group(app, "zzsettle", ["zzsettle2"], name="settle")
    _settles[0] += 1
    word = "zzsentinel%d" % _settles[0]
    assert send(app, "zzsettle", conv, word).status == 201
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = app.call("zzsettle", "GET", query(q=word))
        assert r.status == 200, r
        if r.json()["count"] == 1:
            return
        time.sleep(0.02)
    raise AssertionError("the search indexer did not catch up within 20 s")


def search(app, uid, q, **params):
    # no wait: a message is found as soon as its send is answered
    r = app.call(uid, "GET", query(q=q, **params))
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"count", "results", "page", "page_size"}, body
    return body


def found(app, uid, q, **params):
    """The texts of the hits, best first."""
    return [h["message"]["content"] for h in search(app, uid, q, **params)["results"]]


def say(app, uid, conv, text):
    r = send(app, uid, conv, text)
    assert r.status == 201, r
    return r.json()


# ---------------------------------------------------------------- languages

def test_a_message_is_found_as_soon_as_its_send_is_answered(app):
    conv = direct(app, "alice", "bob")
    for i in range(5):  # each search right after its send, with no wait in between
        word = "immediate%dword" % i
        assert send(app, "alice", conv, "look: " + word).status == 201
        r = app.call("bob", "GET", query(q=word))
        assert r.status == 200 and r.json()["count"] == 1, r
        assert r.json()["results"][0]["message"]["content"] == "look: " + word


def test_an_english_three_word_query_needs_every_word_in_any_case(app):
    conv = direct(app, "alice", "bob")
    say(app, "alice", conv, "The quick brown fox jumps over the lazy dog")
    say(app, "bob", conv, "a quick fox, not brown at all? no: a red one")
    say(app, "bob", conv, "quick brownie for the fox")
    hits = found(app, "alice", "Quick BROWN fox")
    assert sorted(hits) == ["The quick brown fox jumps over the lazy dog",
                            "a quick fox, not brown at all? no: a red one"], hits
    assert found(app, "bob", "quick  brown   lazy") == [
        "The quick brown fox jumps over the lazy dog"]
    assert found(app, "bob", "brow") == []  # words match whole words


def test_a_two_character_chinese_query_matches_the_pair_only(app):
    conv = direct(app, "alice", "carol")
    say(app, "alice", conv, "我们的订单已经发货了")
    say(app, "carol", conv, "订购单已收到")  # 订 and 单, not 订单
    say(app, "carol", conv, "你好，请问在吗")
    assert found(app, "alice", "订单") == ["我们的订单已经发货了"]
    assert found(app, "carol", "你好") == ["你好，请问在吗"]
    assert found(app, "carol", "购单") == ["订购单已收到"]


def test_a_four_character_chinese_query_matches_the_run_in_a_row(app):
    conv = group(app, "alice", ["bob", "carol"], name="订单组")
    say(app, "alice", conv, "请查看订单详情页面")
    say(app, "bob", conv, "详情在订单里")
    assert found(app, "carol", "订单详情") == ["请查看订单详情页面"]
    assert found(app, "carol", "订单页面") == []  # both pairs occur, not in a row
    assert set(found(app, "carol", "订单 详情")) == {"请查看订单详情页面", "详情在订单里"}


def test_japanese_kana_and_kanji(app):
    conv = direct(app, "bob", "carol")
    say(app, "bob", conv, "東京タワーに行きました")
    say(app, "carol", conv, "ひらがなだけのぶんしょう")
    assert found(app, "bob", "タワー") == ["東京タワーに行きました"]
    assert found(app, "bob", "行き") == ["東京タワーに行きました"]
    assert found(app, "bob", "ぶんしょう") == ["ひらがなだけのぶんしょう"]
    assert found(app, "bob", "京都") == []
    assert found(app, "bob", "塔") == []
    assert found(app, "bob", "タ") == ["東京タワーに行きました"]  # one character: a prefix


def test_a_mixed_query_of_latin_and_cjk(app):
    conv = direct(app, "alice", "dave")
    say(app, "dave", conv, "iPhone15の注文番号はABC123です")
    say(app, "dave", conv, "注文 iphone16")
    assert found(app, "alice", "iphone15 注文") == ["iPhone15の注文番号はABC123です"]
    assert found(app, "alice", "abc123番号") == ["iPhone15の注文番号はABC123です"]
    assert found(app, "alice", "ＡＢＣ１２３") == ["iPhone15の注文番号はABC123です"]  # full width
    assert set(found(app, "alice", "注文")) == {"iPhone15の注文番号はABC123です", "注文 iphone16"}


# ---------------------------------------------------------------- the answer

def test_the_hit_is_the_history_message_with_its_conversation_and_a_snippet(app):
    conv = direct(app, "alice", "bob")
    m = say(app, "alice", conv, "<b>Tom & Jerry</b> say \"hi\" to 你好世界 snippetword")
    body = search(app, "bob", "jerry 你好 snippetword")
    assert body["count"] == 1 and body["page"] == 1 and body["page_size"] == 20, body
    hit = body["results"][0]
    hist = app.call("bob", "GET", "/conversations/%s/messages?limit=1" % conv).json()
    assert hit["message"] == hist["results"][0], hit
    assert hit["message"]["id"] == m["id"] and hit["conversation_id"] == conv
    assert hit["snippet"] == ("&lt;b&gt;Tom &amp; <mark>Jerry</mark>&lt;/b&gt; say &quot;hi&quot;"
                              " to <mark>你好</mark>世界 <mark>snippetword</mark>"), hit


def test_a_long_text_is_cut_around_the_first_hit(app):
    conv = direct(app, "alice", "bob")
    text = "lorem " * 40 + "needleword in the middle " + "ipsum " * 40
    say(app, "alice", conv, text)
    snip = search(app, "alice", "needleword")["results"][0]["snippet"]
    assert snip.startswith("\u2026") and snip.endswith("\u2026"), snip
    assert "<mark>needleword</mark>" in snip and len(snip) < 120, snip
    assert snip.index("<mark>") < 30, snip


# ---------------------------------------------------------------- the index follows the writes

def test_a_recalled_message_disappears(app):
    conv = direct(app, "alice", "carol")
    m = say(app, "alice", conv, "recallable secret 撤回测试")
    assert found(app, "carol", "recallable") == ["recallable secret 撤回测试"]
    assert recall(app, "alice", m["id"]).status == 200
    assert search(app, "carol", "recallable")["count"] == 0
    assert found(app, "carol", "撤回") == []


def test_an_edit_is_reindexed(app):
    conv = direct(app, "alice", "carol")
    m = say(app, "alice", conv, "typo oldword 旧词")
    assert found(app, "carol", "oldword") == ["typo oldword 旧词"]
    assert edit(app, "alice", m["id"], "fixed newword 新词").status == 200
    assert found(app, "carol", "oldword") == [] and found(app, "carol", "旧词") == []
    assert found(app, "carol", "newword 新词") == ["fixed newword 新词"]


def test_only_text_is_indexed(app):
    conv = direct(app, "alice", "bob")
    r = send(app, "alice", conv, {"text": "customsecret"}, type="custom")
    assert r.status == 201, r
    media = {"url": "https://x.example/a.png", "name": "mediasecret.png", "size": 1,
             "mime": "image/png"}
    assert send(app, "alice", conv, media, type="image").status == 201
    assert search(app, "alice", "customsecret")["count"] == 0
    assert search(app, "alice", "mediasecret")["count"] == 0


# ---------------------------------------------------------------- who sees what

def test_only_members_and_only_from_when_they_joined(app):
    conv = group(app, "alice", ["bob"], name="Joiners")
    say(app, "alice", conv, "beforejoin words")
    r = app.call("alice", "POST", "/conversations/%s/members" % conv, {"user_ids": ["carol"]})
    assert r.status == 200, r
    say(app, "alice", conv, "afterjoin words")
    assert search(app, "bob", "beforejoin")["count"] == 1
    assert search(app, "carol", "beforejoin")["count"] == 0  # before carol joined
    assert found(app, "carol", "afterjoin") == ["afterjoin words"]
    assert search(app, "dave", "afterjoin")["count"] == 0  # not a member
    error_of(app.call("dave", "GET", query(q="afterjoin", conversation_id=conv)), 404,
             "conversation_id")
    error_of(app.call("dave", "GET", query(q="afterjoin", conversation_id="c" + "0" * 24)),
             404, "conversation_id")
    error_of(app.call("dave", "GET", query(q="afterjoin", conversation_id="bad id")), 404)


def test_conversation_id_narrows_the_search(app):
    one, two = direct(app, "bob", "dave"), group(app, "bob", ["dave"], name="Two")
    say(app, "bob", one, "narrowword one")
    say(app, "bob", two, "narrowword two")
    assert sorted(found(app, "dave", "narrowword")) == ["narrowword one", "narrowword two"]
    assert found(app, "dave", "narrowword", conversation_id=two) == ["narrowword two"]


def test_another_apps_user_of_the_same_id_sees_nothing(app, other):
    conv = direct(app, "alice", "bob")
    say(app, "alice", conv, "tenantword")
    assert search(app, "bob", "tenantword")["count"] == 1
    assert search(other, "alice", "tenantword")["count"] == 0
    assert search(other, "bob", "tenantword")["count"] == 0
    error_of(other.call("bob", "GET", query(q="tenantword", conversation_id=conv)), 404)


# ---------------------------------------------------------------- operators

def test_an_operator_with_conversations_monitor_searches_the_apps_conversations(
        app, other, server, root):
    aid, oid = app_id(server, root, "default"), app_id(server, root, "OtherSearch")
    conv = direct(app, "carol", "dave")
    say(app, "carol", conv, "monitorword 监控")
    mon = operator(server, root, "searcher", ["conversations:monitor"], [aid])
    r = operator_call(server, mon, "GET", query(q="monitorword 监控", app_id=aid))
    assert r.status == 200, r
    assert [h["conversation_id"] for h in r.json()["results"]] == [conv], r.json()
    assert "<mark>监控</mark>" in r.json()["results"][0]["snippet"]
    r = operator_call(server, mon, "GET", query(q="monitorword", app_id=aid,
                                                conversation_id=conv))
    assert r.json()["count"] == 1, r
    error_of(operator_call(server, mon, "GET", query(q="monitorword")), 422, "app_id")
    error_of(operator_call(server, mon, "GET", query(q="monitorword", app_id=oid)), 404,
             "app_id")  # outside the role's apps
    error_of(operator_call(server, root, "GET", query(q="x", app_id="no-such-app")), 404,
             "app_id")
    r = operator_call(server, root, "GET", query(q="monitorword", app_id=oid))
    assert r.status == 200 and r.json()["count"] == 0, r  # the other app has none
    other_conv = direct(other, "alice", "bob")
    error_of(operator_call(server, root, "GET", query(q="monitorword", app_id=aid,
                                                      conversation_id=other_conv)), 404,
             "conversation_id")


def test_an_operator_without_conversations_monitor_is_refused(app, server, root):
    aid = app_id(server, root, "default")
    mod = operator(server, root, "no-monitor", ["conversations:moderate"], [aid])
    error_of(operator_call(server, mod, "GET", query(q="monitorword", app_id=aid)), 403)


# ---------------------------------------------------------------- paging, ranking, limits

def test_paging_newest_first_among_equals(app):
    conv = direct(app, "carol", "dave")
    ids = [say(app, "carol", conv, "pagingword")["id"] for _ in range(5)]
    pages = [search(app, "dave", "pagingword", page=p, page_size=2) for p in (1, 2, 3, 4)]
    assert [b["count"] for b in pages] == [5, 5, 5, 5]
    assert [(b["page"], b["page_size"]) for b in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]
    got = [h["message"]["id"] for b in pages for h in b["results"]]
    assert got == ids[::-1], got
    assert search(app, "dave", "pagingword", page_size=500)["page_size"] == 100


def test_relevance_first_then_newest(app):
    conv = direct(app, "bob", "carol")
    weak_old = say(app, "bob", conv, "rankword and a lot of other words around it here")["id"]
    strong = say(app, "bob", conv, "rankword rankword rankword")["id"]
    weak_new = say(app, "bob", conv, "rankword and a lot of other words around it here")["id"]
    got = [h["message"]["id"] for h in search(app, "carol", "rankword")["results"]]
    assert got == [strong, weak_new, weak_old], got


def test_a_common_term_is_narrowed_to_the_askers_conversations_and_capped(app, server, root):
    """3,000 and more postings: the FTS5 query then also requires the asker's conversation
    tokens (the other path of SQL_MESSAGE_SEARCH_HITS); at most the 1,000 newest hits count."""
    flood = direct(app, "alice", "bob")
    texts = [("flood-%04d" % i, "floodword %d" % i) for i in range(3100)]
    acked, _ = run_senders(server.port, [app.token("alice"), app.token("bob")], flood,
                           [texts[:1550], texts[1550:]])
    assert len(acked) == 3100
    mine = direct(app, "carol", "dave")
    say(app, "carol", mine, "floodword in a quiet place")
    assert found(app, "dave", "floodword") == ["floodword in a quiet place"]
    assert found(app, "dave", "floodword", conversation_id=mine) == [
        "floodword in a quiet place"]
    body = search(app, "bob", "floodword", page=50, page_size=20)
    assert body["count"] == 1000 and len(body["results"]) == 20, body
    assert search(app, "bob", "floodword", page=51, page_size=20)["results"] == []
    assert search(app, "alice", "floodword 3099")["count"] == 1  # the newest is among them
    aid = app_id(server, root, "default")
    r = operator_call(server, root, "GET", query(q="floodword", app_id=aid))
    assert r.status == 200 and r.json()["count"] == 1000, r


@pytest.mark.parametrize("params,message", [
    ({}, "is required"),
    ({"q": ""}, "is required"),
    ({"q": "  \u3000 "}, "is required"),
    ({"q": "a" * 101}, "must be 1 to 100 characters"),
    ({"q": "字" * 101}, "must be 1 to 100 characters"),
    ({"q": "?!... ---"}, "must contain a letter, a digit or a CJK character"),
])
def test_a_bad_q_is_422_naming_q(app, params, message):
    e = error_of(app.call("alice", "GET", "/search/messages?" + urllib.parse.urlencode(params)),
                 422, "q", "validation_failed")
    assert e["message"] == message, e


def test_q_is_counted_in_characters_and_trimmed(app):
    assert search(app, "alice", "字" * 100)["count"] == 0  # 100 characters, 300 bytes
    conv = direct(app, "alice", "bob")
    say(app, "alice", conv, "trimword")
    assert search(app, "alice", "   trimword \u3000")["count"] == 1
    error_of(app.call("alice", "GET", "/search/messages?q=%FF%FE"), 422, "q")


def test_bad_paging_is_422(app):
    error_of(app.call("alice", "GET", query(q="x", page=0)), 422, "page")
    error_of(app.call("alice", "GET", query(q="x", page_size=0)), 422, "page_size")


def test_a_search_needs_a_user_token(server):
    from conftest import http_request
    r = http_request(server.port, "GET", "/api/v1" + query(q="x"))
    assert r.status == 401, r


# ---------------------------------------------------------------- retention, start-up indexing

def db_scalar(server, sql):
    """One value from the stopped server's database (SQLite file, or the run's PostgreSQL)."""
    assert server.stopped
    if PG_URL:
        p = subprocess.run(["psql", pg_database_for(server.workdir), "-v", "ON_ERROR_STOP=1",
                            "-tAc", sql], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()
    db = sqlite3.connect(server.data_dir + "/herald.db")
    try:
        row = db.execute(sql).fetchone()
        db.commit()
        return None if row is None else str(row[0])
    finally:
        db.close()


def test_retention_deletes_the_index_rows_of_what_it_prunes(tmp_path):
    env = {"HERALD_HISTORY_DAYS": "30"}
    s = Server(env=env, workdir=tmp_path / "ret").start()
    try:
        app = App(s, app_headers(s))
        app.users("p1", "p2")
        conv = direct(app, "p1", "p2")
        old = say(app, "p1", conv, "prunedword 旧消息")
        say(app, "p1", conv, "keptword")
        settle(app)  # indexed before the restart
    finally:
        s.stop()
    for sql in ("UPDATE events SET created_at = created_at - %d WHERE message_id = '%s'",
                "UPDATE messages SET created_at = created_at - %d WHERE id = '%s'"):
        db_scalar(s, sql % (DAYS_40_MS, old["id"]))
    s = Server(env=env, workdir=tmp_path / "ret").start()
    try:
        s.wait_for_log(lambda l: "pruned events=" in l, timeout=30)
        app = App(s, app_headers(s))
        assert search(app, "p2", "prunedword")["count"] == 0
        assert search(app, "p2", "消息")["count"] == 0
        assert search(app, "p2", "keptword")["count"] == 1
    finally:
        s.stop()
    assert db_scalar(s, "SELECT count(*) FROM message_search WHERE message_id = '%s'"
                     % old["id"]) == "0"
    if not PG_URL:  # the FTS postings went with the row (the triggers of migration 013)
        assert db_scalar(s, "SELECT count(*) FROM message_fts WHERE message_fts MATCH"
                            " 'prunedword'") == "0"
        assert db_scalar(s, "SELECT count(*) FROM message_fts WHERE message_fts MATCH"
                            " 'keptword'") == "1"


def test_messages_from_before_the_index_are_indexed_at_start(tmp_path):
    s = Server(workdir=tmp_path / "bf").start()
    try:
        app = App(s, app_headers(s))
        app.users("p1", "p2")
        conv = direct(app, "p1", "p2")
        m = say(app, "p1", conv, "backfillword 回填")
        gone = say(app, "p1", conv, "recalledbackfill")
        assert recall(app, "p1", gone["id"]).status == 200
        settle(app)  # both indexed (the recalled one: taken off the index by the recall)
    finally:
        s.stop()
    # as migration 013 leaves a database written before it: no index rows, the ids listed
    db_scalar(s, "DELETE FROM message_search WHERE message_id = '%s'" % m["id"])
    db_scalar(s, "INSERT INTO message_search_pending (message_id) VALUES ('%s')" % m["id"])
    db_scalar(s, "INSERT INTO message_search_pending (message_id) VALUES ('%s')" % gone["id"])
    s = Server(workdir=tmp_path / "bf").start()
    try:
        app = App(s, app_headers(s))
        assert found(app, "p2", "backfillword") == ["backfillword 回填"]
        assert found(app, "p2", "回填") == ["backfillword 回填"]
        assert search(app, "p2", "recalledbackfill")["count"] == 0
    finally:
        s.stop()
    assert db_scalar(s, "SELECT count(*) FROM message_search_pending") == "0"
