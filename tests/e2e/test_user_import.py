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
