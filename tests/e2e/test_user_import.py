"""
`herald user import FILE` (issue 3 §4): JSON lines and CSV, create-or-update, contacts
and metadata columns, legacy password hashes carried over, every record validated first
(an invalid file imports nothing, errors name the line and field), and a progress line.
"""
import json

import pytest

from conftest import http_request, module_server, run_herald

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    p = run_herald(["app", "secret", "default"], env=server.cli_env())
    assert p.returncode == 0, p
    kv = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    return {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}


def get_user(server, app, uid):
    return http_request(server.port, "GET", API + "/users/" + uid, headers=app, timeout=20)


def imp(server, path, *args):
    return run_herald(["user", "import", str(path), *args], env=server.cli_env(), timeout=120)


def test_csv_import(server, app, tmp_path):
    f = tmp_path / "users.csv"
    f.write_text('id,name,kind,email,contacts.qq,metadata,disabled\r\n'
                 'c1,"Chen, Wei",buyer,chen@example.com,12345,"{""orders"":[7]}",false\r\n'
                 '\r\n'
                 'c2,"multi\nline",merchant,,,,1\r\n', encoding="utf-8")
    p = imp(server, f)
    assert p.returncode == 0, p
    assert "imported 2 users" in p.stdout, p
    u = get_user(server, app, "c1").json()
    assert u["name"] == "Chen, Wei" and u["kind"] == "buyer"
    assert u["contacts"] == {"email": "chen@example.com", "qq": "12345"}
    assert u["metadata"] == {"orders": [7]} and u["disabled"] is False
    u2 = get_user(server, app, "c2").json()
    assert u2["name"] == "multi\nline" and u2["disabled"] is True


def test_csv_with_a_byte_order_mark_imports(server, app, tmp_path):
    """Spreadsheets save "CSV UTF-8" with a byte-order mark before the header."""
    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbfid,name\r\nbom1,\xe9\x99\x88\r\n")
    p = imp(server, f)
    assert p.returncode == 0, p
    assert "imported 1 user into" in p.stdout, p
    assert get_user(server, app, "bom1").json()["name"] == "陈"


def test_jsonl_import_updates_existing(server, app, tmp_path):
    f = tmp_path / "users.jsonl"
    f.write_text(json.dumps({"id": "c1", "name": "陈伟"}, ensure_ascii=False) + "\n\n" +
                 json.dumps({"id": "j1", "kind": "agent", "contacts": {"phone": "+86 1"}}) + "\n",
                 encoding="utf-8")
    p = imp(server, f)
    assert p.returncode == 0, p
    u = get_user(server, app, "c1").json()
    assert u["name"] == "陈伟" and u["kind"] == "buyer"  # given fields change, others stay
    assert get_user(server, app, "j1").json()["kind"] == "agent"


@pytest.mark.parametrize("content,fmt,expect", [
    ('{"id":"ok1"}\n{"id":"bad id"}\n', "jsonl", "line 2: id:"),
    ('{"id":"ok1"}\nnot json\n', "jsonl", "line 2: not a JSON object"),
    ('{"id":"ok1","name":5}\n', "jsonl", "line 1: name:"),
    ('{"id":"ok1","password_hash":"plain"}\n', "jsonl", "line 1: password_hash:"),
    ('id,name,colour\nok1,A,red\n', "csv", 'unknown column "colour"'),
    ('name\nA\n', "csv", "no id column"),
    ('id,name\nok1,A,extra\n', "csv", "line 2: the number of columns"),
    ('id,name\nok1,"unterminated\n', "csv", "unterminated quoted field"),
    ('id,disabled\nok1,maybe\n', "csv", "line 2: disabled:"),
])
def test_invalid_file_imports_nothing(server, app, tmp_path, content, fmt, expect):
    f = tmp_path / ("bad." + fmt)
    f.write_text(content)
    p = imp(server, f)
    assert p.returncode == 1, p
    assert expect in p.stderr, p.stderr
    assert get_user(server, app, "ok1").status == 404


def test_legacy_hash_is_stored(server, app, tmp_path):
    f = tmp_path / "legacy.csv"
    f.write_text("id,name,password_hash\n"
                 "legacy1,Old,$2b$12$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W\n")
    p = imp(server, f)
    assert p.returncode == 0, p
    u = get_user(server, app, "legacy1").json()
    assert "password_hash" not in u and "password" not in json.dumps(u)


def test_unknown_app_and_missing_file(server, tmp_path):
    f = tmp_path / "one.jsonl"
    f.write_text('{"id":"x"}\n')
    p = imp(server, f, "--app", "nope")
    assert p.returncode == 1 and "no app with key 'nope'" in p.stderr, p
    p = imp(server, tmp_path / "missing.jsonl")
    assert p.returncode == 1 and "cannot read" in p.stderr, p
    p = run_herald(["user", "import", "--help"])
    assert p.returncode == 0 and "JSON lines" in p.stdout, p


def test_progress_line_on_a_large_file(server, app, tmp_path):
    f = tmp_path / "many.jsonl"
    with open(f, "w") as out:
        for i in range(100000):
            out.write('{"id":"bulk%d","name":"User %d"}\n' % (i, i))
    p = imp(server, f)
    assert p.returncode == 0, p
    assert "imported 100000 users" in p.stderr and "imported 100000 users into app" in p.stdout
    assert get_user(server, app, "bulk99999").json()["name"] == "User 99999"


# ------------------------------------------------------------------ issue 7: strict records, repeats, revocation

def api(server, method, path, body=None, headers=None, token=None):
    h = dict(headers or {})
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if token:
        h["Authorization"] = "Bearer " + token
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=20)


def test_repeated_id_is_refused_naming_both_lines(server, app, tmp_path):
    f = tmp_path / "twice.jsonl"
    f.write_text('{"id":"twice1","name":"first"}\n{"id":"other1"}\n\n{"id":"twice1","name":"later"}\n')
    p = imp(server, f)
    assert p.returncode == 1, p
    assert 'line 4: id: "twice1" appears twice (lines 1 and 4)' in p.stderr, p.stderr
    assert "imported" not in p.stdout, p
    assert get_user(server, app, "twice1").status == 404
    assert get_user(server, app, "other1").status == 404
    c = tmp_path / "twice.csv"
    c.write_text("id,name\ntwice2,a\ntwice2,b\n")
    p = imp(server, c)
    assert p.returncode == 1 and 'line 3: id: "twice2" appears twice (lines 2 and 3)' in p.stderr, p
    assert get_user(server, app, "twice2").status == 404


@pytest.mark.parametrize("content,expect", [
    (b'{"id":"strict1","name":"a\x00b"}\n', "line 1: name: "),
    (b'{"id":"strict1","name":"a\x01b"}\n', "line 1: name: "),
    (b'{"id":"strict1","name":"\xc0\xaf"}\n', "line 1: name: "),
    (b'{"id":"strict1","name":"\\ud800"}\n', "line 1: name: "),
    (b'{"id":"strict1","name":"x\\u0000y"}\n', "line 1: name: must not contain \\u0000"),
    (b'{"id":"strict1","contacts":{"email":"a@b.co","email":"<script>"}}\n',
     'line 1: contacts.email: duplicate key "email"'),
    (b'{"id":"strict1","contacts":{"email":"not an address"}}\n',
     "line 1: contacts.email: must be an e-mail address"),
    (b'{"id":"strict1"} {"id":"strict2"}\n', "line 1: not a JSON object"),
])
def test_jsonl_records_are_checked_strictly(server, app, tmp_path, content, expect):
    f = tmp_path / "strict.jsonl"
    f.write_bytes(content)
    p = imp(server, f)
    assert p.returncode == 1, p
    assert expect in p.stderr, p.stderr
    assert get_user(server, app, "strict1").status == 404


@pytest.mark.parametrize("content,expect", [
    (b"id,name\nstrict3,a\x00b\n", "line 2: "),
    (b"id,name\nstrict3,\xff\n", "line 2: name: not valid UTF-8"),
    (b"id,email\nstrict3,nope\n", "line 2: contacts.email: must be an e-mail address"),
    (b'id,metadata\nstrict3,"{""a"":1,""a"":2}"\n', 'line 2: metadata.a: duplicate key "a"'),
    (b'id,metadata\nstrict3,"{""a"":""\\u0000""}"\n', "line 2: metadata.a: must not contain"),
])
def test_csv_cells_are_checked_strictly(server, app, tmp_path, content, expect):
    f = tmp_path / "strict.csv"
    f.write_bytes(content)
    p = imp(server, f)
    assert p.returncode == 1, p
    assert expect in p.stderr, p.stderr
    assert get_user(server, app, "strict3").status == 404


def wait_status(fn, want, timeout=5.0):
    import time
    deadline = time.time() + timeout
    while True:
        r = fn()
        if r.status == want or time.time() > deadline:
            return r
        time.sleep(0.1)


def test_import_revokes_sessions_like_the_api(server, app, tmp_path):
    pw = "correct horse 1"
    for uid in ("rev1", "rev2", "rev3"):
        r = api(server, "POST", "/users", {"id": uid, "password": pw}, headers=app)
        assert r.status == 201, r
    toks = {}
    for uid in ("rev1", "rev2", "rev3"):
        r = api(server, "POST", "/auth/login", {"username": uid, "password": pw})
        assert r.status == 200, r
        toks[uid] = r.json()
        assert api(server, "GET", "/auth/me", token=toks[uid]["access_token"]).status == 200
    f = tmp_path / "revoke.jsonl"
    f.write_text('{"id":"rev1","disabled":true}\n'
                 '{"id":"rev2","password_hash":"$2b$12$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W"}\n'
                 '{"id":"rev3","name":"only a name"}\n'
                 '{"id":"rev4","disabled":true}\n')
    p = imp(server, f)
    assert p.returncode == 0, p
    assert "imported 4 users" in p.stdout, p
    # access tokens: refused once the server has read the revocations (about a second)
    for uid in ("rev1", "rev2"):
        r = wait_status(lambda: api(server, "GET", "/auth/me", token=toks[uid]["access_token"]), 401)
        assert r.status == 401, (uid, r)
        r = api(server, "POST", "/auth/refresh", {"refresh_token": toks[uid]["refresh_token"]})
        assert r.status == 401, (uid, r)
    assert api(server, "GET", "/auth/me", token=toks["rev3"]["access_token"]).status == 200
    r = api(server, "POST", "/auth/refresh", {"refresh_token": toks["rev3"]["refresh_token"]})
    assert r.status == 200, r
