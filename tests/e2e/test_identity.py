"""
Identity (issue 3, first part): the `default` app, app authentication (key + secret
headers, bearer app tokens from /auth/token), users CRUD, paging, batch upsert,
validation errors naming fields, tenant isolation, user token minting, and data
surviving a restart. Apps and their secrets come from the CLI (`herald app ...`),
run against the server's data folder while it runs.
"""
import base64
import json

import pytest

from conftest import Server, http_request, module_server, run_herald

API = "/api/v1"


def app_cli(server, *args):
    p = run_herald(["app", *args], env=server.cli_env())
    assert p.returncode == 0, p
    return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)


def creds(key, secret):
    return {"X-App-Key": key, "X-App-Secret": secret}


def call(server, method, path, auth=None, body=None, headers=None, raw=None):
    h = dict(auth or {})
    if body is not None:
        raw = json.dumps(body).encode()
    if raw is not None:
        h.setdefault("Content-Type", "application/json")
    h.update(headers or {})
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=20)


def b64url_json(seg):
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    """Credentials of the default app (a secret added through the CLI)."""
    c = app_cli(server, "secret", "default")
    assert c["key"] == "default" and len(c["secret"]) == 43, c
    return creds(c["key"], c["secret"])


# ------------------------------------------------------------------ apps and app auth

def test_default_app_exists(server):
    p = run_herald(["app", "list"], env=server.cli_env())
    assert p.returncode == 0, p
    keys = [line.split()[1] for line in p.stdout.splitlines()]
    assert keys == ["default"], p.stdout


@pytest.mark.parametrize("headers", [
    {},
    {"X-App-Key": "default"},
    {"X-App-Key": "default", "X-App-Secret": "x" * 43},
    {"X-App-Key": "nope", "X-App-Secret": "A" * 43},
    {"Authorization": "Bearer not.a.token"},
    {"Authorization": "Basic Zm9vOmJhcg=="},
])
def test_app_auth_rejects(server, app, headers):
    r = call(server, "GET", "/users", headers=headers)
    assert r.status == 401, r
    assert r.json()["error"]["code"] == "unauthorized", r


def test_wrong_key_with_right_secret_is_401(server, app):
    r = call(server, "GET", "/users", auth=creds("other", app["X-App-Secret"]))
    assert r.status == 401, r


def test_auth_token_then_bearer(server, app):
    r = call(server, "POST", "/auth/token",
             body={"api_key": "default", "api_secret": app["X-App-Secret"]})
    assert r.status == 200, r
    j = r.json()
    assert j["token_type"] == "Bearer" and j["expires_in"] == 900, j
    parts = j["access_token"].split(".")
    assert len(parts) == 3 and b64url_json(parts[1])["typ"] == "app"
    bearer = {"Authorization": "Bearer " + j["access_token"]}
    r = call(server, "GET", "/users", auth=bearer)
    assert r.status == 200, r
    bad = call(server, "POST", "/auth/token", body={"api_key": "default", "api_secret": "A" * 43})
    assert bad.status == 401, bad
    missing = call(server, "POST", "/auth/token", body={"api_key": "default"})
    assert missing.status == 422 and missing.json()["error"]["field"] == "api_secret", missing
    log = server.stderr_text()
    assert app["X-App-Secret"] not in log and j["access_token"] not in log


# ------------------------------------------------------------------ users

def test_user_crud(server, app):
    u = {"id": "b1", "name": "Bob", "avatar": "https://x/a.png", "kind": "buyer",
         "contacts": {"email": "bob@example.com"}, "metadata": {"orders": [{"id": 7}]}}
    r = call(server, "POST", "/users", auth=app, body=u)
    assert r.status == 201, r
    got = r.json()
    for k, v in u.items():
        assert got[k] == v, (k, got)
    assert "password_hash" not in got and "app_id" not in got
    assert isinstance(got["created_at"], int)

    assert call(server, "POST", "/users", auth=app, body={"id": "b1"}).status == 409

    r = call(server, "GET", "/users/b1", auth=app)
    assert r.status == 200 and r.json()["name"] == "Bob", r

    r = call(server, "PATCH", "/users/b1", auth=app, body={"name": "Bobby", "metadata": {}})
    assert r.status == 200, r
    assert r.json()["name"] == "Bobby" and r.json()["metadata"] == {} \
        and r.json()["kind"] == "buyer", r

    for field in ("id", "app_id", "role", "password_hash"):
        r = call(server, "PATCH", "/users/b1", auth=app, body={field: "x"})
        assert r.status == 422, r
        assert r.json()["error"]["code"] == "validation_failed"
        assert r.json()["error"]["field"] == field, r

    r = call(server, "DELETE", "/users/b1", auth=app)
    assert r.status == 204, r
    assert call(server, "GET", "/users/b1", auth=app).status == 404
    assert call(server, "DELETE", "/users/b1", auth=app).status == 404
    assert call(server, "PATCH", "/users/b1", auth=app, body={"name": "x"}).status == 404


@pytest.mark.parametrize("body,field", [
    ({"name": "no id"}, "id"),
    ({"id": ""}, "id"),
    ({"id": "a" * 65}, "id"),
    ({"id": "has space"}, "id"),
    ({"id": "ok", "name": "n" * 129}, "name"),
    ({"id": "ok", "name": 5}, "name"),
    ({"id": "ok", "avatar": "a" * 1025}, "avatar"),
    ({"id": "ok", "kind": "k" * 33}, "kind"),
    ({"id": "ok", "contacts": {"email": 1}}, "contacts.email"),
    ({"id": "ok", "contacts": []}, "contacts"),
    ({"id": "ok", "metadata": [1]}, "metadata"),
    ({"id": "ok", "metadata": {"x": "y" * (65 * 1024)}}, "metadata"),
    ({"id": "ok", "password_hash": "x"}, "password_hash"),
])
def test_user_validation_names_field(server, app, body, field):
    r = call(server, "POST", "/users", auth=app, body=body)
    assert r.status == 422, r
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and err["field"] == field, err


@pytest.mark.parametrize("raw", [b"[1]", b'"x"', b"3", b"null"])
def test_a_body_that_is_not_an_object_names_no_field(server, app, raw):
    r = call(server, "POST", "/users", auth=app, raw=raw)
    assert r.status == 422, r
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and "field" not in err, err
    assert err["message"] == "must be a JSON object", err


def test_user_limits_accept_maximum(server, app):
    body = {"id": "A-z_0.9@x:" + "q" * 54, "name": "名" * 128, "kind": "k" * 32}
    r = call(server, "POST", "/users", auth=app, body=body)
    assert r.status == 201, r
    assert call(server, "DELETE", "/users/" + body["id"], auth=app).status == 204


def test_invalid_json_and_media_type(server, app):
    r = call(server, "POST", "/users", auth=app, raw=b'{"id": ')
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json", r
    r = call(server, "POST", "/users", auth=app, raw=b'{"id":"x"} trailing')
    assert r.status == 400, r
    r = call(server, "POST", "/users", auth=app, raw=b'id=x',
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415 and r.json()["error"]["code"] == "unsupported_media_type", r
    # JSON is UTF-8 (RFC 8259): another charset is refused, UTF-8 named any way is not
    for ct in ("application/json; charset=latin1", "application/json;charset=utf-16",
               "application/json; q=1; charset=\"iso-8859-1\""):
        r = call(server, "POST", "/users", auth=app, raw=b'{"id":"cs-x"}',
                 headers={"Content-Type": ct})
        assert r.status == 415 and r.json()["error"]["code"] == "unsupported_media_type", (ct, r)
    for n, ct in enumerate(("application/json; charset=UTF-8", "Application/JSON;charset=\"utf8\"",
                            "application/json; q=1")):
        r = call(server, "POST", "/users", auth=app, raw=b'{"id":"cs-%d"}' % n,
                 headers={"Content-Type": ct})
        assert r.status == 201, (ct, r)


# ------------------------------------------------------------------ strict JSON bodies (issue 7)

def err_of(r):
    return r.json()["error"]


def test_raw_nul_in_a_string_is_invalid_json(server, app):
    # a real 0x00 byte used to cut the id: 201 and a user "a"
    r = call(server, "POST", "/users", auth=app, raw=b'{"id": "a\x00b", "name": "n"}')
    assert r.status == 400 and err_of(r)["code"] == "invalid_json", r
    assert err_of(r)["field"] == "id", r
    assert call(server, "GET", "/users/a", auth=app).status == 404
    assert call(server, "GET", "/users/ab", auth=app).status == 404


@pytest.mark.parametrize("raw", [
    b'{"id": "ctl1", "name": "a\x01b"}',
    b'{"id": "ctl1", "name": "a\x1fb"}',
    b'{"id": "ctl1", "name": "tab\there"}',
    b'{"id": "ctl1", "name": "line\nbreak"}',
    b'{"id": "ctl1", "contacts": {"email\x00": "a@b.co"}}',
])
def test_raw_control_characters_are_invalid_json(server, app, raw):
    r = call(server, "POST", "/users", auth=app, raw=raw)
    assert r.status == 400 and err_of(r)["code"] == "invalid_json", r
    assert call(server, "GET", "/users/ctl1", auth=app).status == 404


@pytest.mark.parametrize("body,field", [
    ('{"id": "nul1", "name": "a\\u0000b"}', "name"),
    ('{"id": "nul1", "avatar": "\\u0000"}', "avatar"),
    ('{"id": "nul1", "kind": "k\\u0000"}', "kind"),
    ('{"id": "nul1", "contacts": {"email": "a@b.co\\u0000x"}}', "contacts.email"),
    ('{"id": "nul1", "metadata": {"deep": [1, {"k": "v\\u0000"}]}}', "metadata.deep[1].k"),
    ('{"id": "nul1", "password": "password\\u0000tail"}', "password"),
    ('{"id": "nul1\\u0000evil"}', "id"),
])
def test_escaped_nul_is_refused_naming_the_field(server, app, body, field):
    r = call(server, "POST", "/users", auth=app, raw=body.encode())
    assert r.status == 422, r
    assert err_of(r)["code"] == "validation_failed" and err_of(r)["field"] == field, r
    assert call(server, "GET", "/users/nul1", auth=app).status == 404


def test_escaped_nul_in_patch_and_batch(server, app):
    assert call(server, "POST", "/users", auth=app, body={"id": "nul2", "name": "kept"}).status == 201
    r = call(server, "PATCH", "/users/nul2", auth=app, raw=b'{"name": "cut\\u0000here"}')
    assert r.status == 422 and err_of(r)["field"] == "name", r
    r = call(server, "POST", "/users/batch", auth=app,
             raw=b'{"users": [{"id": "nul3"}, {"id": "nul4", "name": "x\\u0000"}]}')
    assert r.status == 422 and err_of(r)["field"] == "users[1].name", r
    assert call(server, "GET", "/users/nul2", auth=app).json()["name"] == "kept"
    assert call(server, "GET", "/users/nul3", auth=app).status == 404


def test_duplicate_keys_are_refused(server, app):
    raw = b'{"id": "dup1", "contacts": {"email": "a@b.co", "email": "<script>"}}'
    r = call(server, "POST", "/users", auth=app, raw=raw)
    assert r.status == 400 and err_of(r)["code"] == "invalid_json", r
    assert '"email"' in err_of(r)["message"] and err_of(r)["field"] == "contacts.email", r
    assert call(server, "GET", "/users/dup1", auth=app).status == 404
    # at the top level, spelled with an escape, in PATCH and in a batch
    r = call(server, "POST", "/users", auth=app, raw=b'{"id": "dup1", "\\u0069d": "dup2"}')
    assert r.status == 400 and err_of(r)["field"] == "id", r
    assert call(server, "POST", "/users", auth=app, body={"id": "dup3"}).status == 201
    r = call(server, "PATCH", "/users/dup3", auth=app, raw=b'{"disabled": false, "disabled": true}')
    assert r.status == 400 and err_of(r)["code"] == "invalid_json", r
    assert call(server, "GET", "/users/dup3", auth=app).json()["disabled"] is False
    r = call(server, "POST", "/users/batch", auth=app,
             raw=b'[{"id": "dup4"}, {"id": "dup5", "name": "a", "name": "b"}]')
    assert r.status == 400 and err_of(r)["field"] == "[1].name", r


@pytest.mark.parametrize("raw", [
    b'{"id": "utf1", "name": "\xff"}',
    b'{"id": "utf1", "name": "\xc3"}',
    b'{"id": "utf1", "name": "\xc0\xaf"}',          # overlong '/'
    b'{"id": "utf1", "name": "\xe0\x80\xaf"}',      # overlong, 3 bytes
    b'{"id": "utf1", "name": "\xed\xa0\x80"}',      # a surrogate, encoded
    b'{"id": "utf1", "name": "\xf4\x90\x80\x80"}',  # above U+10FFFF
    b'{"id": "utf1", "name": "\\ud800"}',          # a lone surrogate escape
    b'{"id": "utf1", "metadata": {"\xff": 1}}',
])
def test_invalid_utf8_is_refused(server, app, raw):
    r = call(server, "POST", "/users", auth=app, raw=raw)
    assert r.status == 400 and err_of(r)["code"] == "invalid_json", r
    assert call(server, "GET", "/users/utf1", auth=app).status == 404


def test_valid_unicode_round_trips(server, app):
    body = {"id": "uni1", "name": "Zo\u00eb \U0001F600 \u20ac", "metadata": {"\u00e9": ["\u0001"]}}
    r = call(server, "POST", "/users", auth=app, body=body)
    assert r.status == 201, r
    got = call(server, "GET", "/users/uni1", auth=app)
    assert got.status == 200 and got.json()["name"] == body["name"], got
    assert got.json()["metadata"] == body["metadata"], got


def test_content_type_any_case_with_parameters(server, app):
    r = call(server, "POST", "/users", auth=app, body={"id": "ct1"},
             headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert r.status == 201, r
    r = call(server, "POST", "/users", auth=app, body={"id": "ct2"},
             headers={"Content-Type": "application/jsonx"})
    assert r.status == 415, r


def test_depth_limit_is_invalid_json(server, app):
    deep = '{"id": "deep1", "metadata": {"a": ' + "[" * 40 + "]" * 40 + "}}"
    r = call(server, "POST", "/users", auth=app, raw=deep.encode())
    assert r.status == 400 and err_of(r)["code"] == "invalid_json", r
    ok = '{"id": "deep1", "metadata": {"a": ' + "[" * 20 + "]" * 20 + "}}"
    assert call(server, "POST", "/users", auth=app, raw=ok.encode()).status == 201


def test_end_user_password_limit_is_in_bytes(server, app):
    # 200 emoji: 200 characters, 800 bytes; the hash takes at most 511 bytes
    long_pw = "\U0001F600" * 200
    r = call(server, "POST", "/users", auth=app, body={"id": "pwb1", "password": long_pw})
    assert r.status == 422 and err_of(r)["field"] == "password", r
    r = call(server, "POST", "/users", auth=app, body={"id": "pwb1", "password": "\U0001F600" * 127})
    assert r.status == 201, r
    r = call(server, "PATCH", "/users/pwb1", auth=app, body={"password": long_pw})
    assert r.status == 422 and err_of(r)["field"] == "password", r
    r = call(server, "POST", "/auth/register", body={"username": "pwb2", "password": long_pw})
    assert r.status == 422 and err_of(r)["field"] == "password", r
    r = call(server, "POST", "/auth/login", body={"username": "pwb1", "password": long_pw})
    assert r.status == 422 and err_of(r)["field"] == "password", r  # never a 500


# ------------------------------------------------------------------ one e-mail rule (issue 7)

BAD_EMAILS = ["nope", "a@b", "@b.co", "a@.co", "a b@c.co", "a@b.co@d.co", "a@b.", "x" * 250 + "@b.co"]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_email_checked_on_create_patch_and_batch(server, app, email):
    r = call(server, "POST", "/users", auth=app, body={"id": "em1", "contacts": {"email": email}})
    assert r.status == 422 and err_of(r)["field"] == "contacts.email", r
    uid = "em2"  # created and deleted again by each case
    assert call(server, "POST", "/users", auth=app, body={"id": uid}).status == 201
    r = call(server, "PATCH", "/users/" + uid, auth=app, body={"contacts": {"email": email}})
    assert r.status == 422 and err_of(r)["field"] == "contacts.email", r
    r = call(server, "POST", "/users/batch", auth=app,
             body={"users": [{"id": "em3"}, {"id": "em4", "contacts": {"email": email}}]})
    assert r.status == 422 and err_of(r)["field"] == "users[1].contacts.email", r
    assert call(server, "GET", "/users/em1", auth=app).status == 404
    assert call(server, "GET", "/users/em3", auth=app).status == 404
    assert call(server, "DELETE", "/users/" + uid, auth=app).status == 204


def test_good_emails_pass_everywhere(server, app):
    for i, email in enumerate(["a@b.co", "first.last+tag@sub.example.org", "\u7528\u6237@\u4f8b\u5b50.\u4e2d\u56fd"]):
        r = call(server, "POST", "/users", auth=app, body={"id": "eg%d" % i, "contacts": {"email": email}})
        assert r.status == 201, r
        assert r.json()["contacts"]["email"] == email


def test_paging(server, app):
    users = [{"id": "p%03d" % i, "name": "P %d" % i} for i in range(45)]
    r = call(server, "POST", "/users/batch", auth=app, body={"users": users})
    assert r.status == 200, r
    seen = []
    for page in (1, 2, 3):
        r = call(server, "GET", "/users?page=%d&page_size=20" % page, auth=app)
        assert r.status == 200, r
        j = r.json()
        assert j["page"] == page and j["page_size"] == 20 and j["count"] >= 45, j
        seen += [u["id"] for u in j["results"]]
    assert set(u["id"] for u in users) <= set(seen)
    assert len(seen) == len(set(seen))
    r = call(server, "GET", "/users?page_size=500", auth=app)
    assert r.json()["page_size"] == 100, r
    r = call(server, "GET", "/users?page=0", auth=app)
    assert r.status == 422 and r.json()["error"]["field"] == "page", r
    r = call(server, "GET", "/users?page_size=abc", auth=app)
    assert r.status == 422 and r.json()["error"]["field"] == "page_size", r


def test_batch_thousand_users(server, app):
    users = [{"id": "bulk%04d" % i, "kind": "buyer", "metadata": {"n": i}} for i in range(1000)]
    r = call(server, "POST", "/users/batch", auth=app, body={"users": users})
    assert r.status == 200, r
    assert r.json() == {"count": 1000, "created": 1000, "updated": 0}, r
    users[0]["name"] = "first"
    users.append({"id": "bulk-extra"})
    r = call(server, "POST", "/users/batch", auth=app, body={"users": users[:999] + [users[-1]]})
    assert r.json() == {"count": 1000, "created": 1, "updated": 999}, r
    r = call(server, "GET", "/users/bulk0000", auth=app)
    assert r.json()["name"] == "first" and r.json()["metadata"] == {"n": 0}, r
    too_many = [{"id": "t%d" % i} for i in range(1001)]
    r = call(server, "POST", "/users/batch", auth=app, body={"users": too_many})
    assert r.status == 422 and r.json()["error"]["field"] == "users", r
    bad = [{"id": "ok1"}, {"id": "ok2"}, {"id": "ok3"}, {"id": "ok4", "name": "n" * 129}]
    r = call(server, "POST", "/users/batch", auth=app, body={"users": bad})
    assert r.status == 422 and r.json()["error"]["field"] == "users[3].name", r
    assert call(server, "GET", "/users/ok1", auth=app).status == 404  # nothing was written
    dup = [{"id": "d1"}, {"id": "d1"}]
    r = call(server, "POST", "/users/batch", auth=app, body={"users": dup})
    assert r.status == 422 and r.json()["error"]["field"] == "users[1].id", r
    r = call(server, "POST", "/users/batch", auth=app, body={"users": [{"id": "x1"}], "extra": 1})
    assert r.status == 422 and r.json()["error"]["field"] == "extra", r
    assert call(server, "GET", "/users/x1", auth=app).status == 404


def test_the_ids_of_literal_routes_are_reserved_and_those_routes_win(server, app):
    # /users/online and /users/batch are routes: no user can take those ids, and a wrong
    # method there is a 405 naming the route's own methods, not a lookup of a user
    for uid in ("online", "batch"):
        r = call(server, "POST", "/users", auth=app, body={"id": uid})
        assert r.status == 422 and r.json()["error"]["field"] == "id", r
        assert "reserved" in r.json()["error"]["message"], r
    r = call(server, "POST", "/users/batch", auth=app, body={"users": [{"id": "r1"}, {"id": "online"}]})
    assert r.status == 422 and r.json()["error"]["field"] == "users[1].id", r
    assert call(server, "GET", "/users/r1", auth=app).status == 404  # nothing was written
    r = call(server, "GET", "/users/batch", auth=app)
    assert r.status == 405 and r.header("Allow") == "POST, OPTIONS", r
    assert r.json()["error"]["code"] == "method_not_allowed", r
    r = call(server, "PATCH", "/users/online", auth=app, body={"name": "x"})
    assert r.status == 405 and r.header("Allow") == "GET, HEAD, OPTIONS", r
    r = call(server, "POST", "/auth/register", body={"username": "online", "password": "pw-123456789"})
    assert r.status == 422 and r.json()["error"]["field"] == "username", r


def test_minting_a_token_refuses_members_it_does_not_know(server, app):
    assert call(server, "POST", "/users", auth=app, body={"id": "mint1"}).status == 201
    r = call(server, "POST", "/users/mint1/tokens", auth=app, body={"ttl": 60})
    assert r.status == 422 and r.json()["error"]["field"] == "ttl", r
    r = call(server, "POST", "/users/mint1/tokens", auth=app, raw=b"hello",
             headers={"Content-Type": "text/plain"})
    assert r.status == 415, r
    for body in (None, {}):
        r = call(server, "POST", "/users/mint1/tokens", auth=app, body=body)
        assert r.status == 200 and r.json()["token_type"] == "Bearer", r


def test_tenant_isolation(server, app):
    other = app_cli(server, "create", "Shop Two")
    assert other["key"] and len(other["secret"]) == 43, other
    two = creds(other["key"], other["secret"])
    assert call(server, "POST", "/users", auth=app, body={"id": "iso1"}).status == 201
    assert call(server, "GET", "/users/iso1", auth=two).status == 404
    assert call(server, "PATCH", "/users/iso1", auth=two, body={"name": "x"}).status == 404
    assert call(server, "DELETE", "/users/iso1", auth=two).status == 404
    assert call(server, "POST", "/users/iso1/tokens", auth=two).status == 404
    # the same id may exist in both apps
    r = call(server, "POST", "/users", auth=two, body={"id": "iso1", "name": "two"})
    assert r.status == 201, r
    assert call(server, "GET", "/users", auth=two).json()["count"] == 1
    assert call(server, "GET", "/users/iso1", auth=app).json()["name"] == ""


def test_mint_user_token(server, app):
    assert call(server, "POST", "/users", auth=app, body={"id": "tok1"}).status == 201
    r = call(server, "POST", "/users/tok1/tokens", auth=app)
    assert r.status == 200, r
    j = r.json()
    assert j["token_type"] == "Bearer" and j["expires_in"] == 900, j
    head, payload, sig = j["access_token"].split(".")
    assert b64url_json(head)["alg"] == "HS256"
    claims = b64url_json(payload)
    assert claims["typ"] == "user" and claims["sub"] == "tok1" and claims["app"], claims
    assert 890 <= claims["exp"] - claims["iat"] <= 910, claims
    assert call(server, "POST", "/users/nobody/tokens", auth=app).status == 404
    # a user token is not an app token
    r = call(server, "GET", "/users", headers={"Authorization": "Bearer " + j["access_token"]})
    assert r.status == 401, r


# ------------------------------------------------------------------ persistence and config

def test_data_survives_restart(tmp_path):
    s = Server(workdir=tmp_path / "srv", env={"HERALD_ACCESS_TTL": "2m"}).start()
    try:
        c = app_cli(s, "secret", "default")
        a = creds(c["key"], c["secret"])
        assert call(s, "POST", "/users", auth=a, body={"id": "keep", "name": "K"}).status == 201
        tok = call(s, "POST", "/users/keep/tokens", auth=a).json()
        assert tok["expires_in"] == 120, tok
    finally:
        s.stop()
    s2 = Server(workdir=tmp_path / "srv").start()
    try:
        r = call(s2, "GET", "/users/keep", auth=a)
        assert r.status == 200 and r.json()["name"] == "K", r
        p = run_herald(["app", "list"], env=s2.cli_env())
        assert len(p.stdout.splitlines()) == 1, p.stdout  # no second default app
    finally:
        s2.stop()


@pytest.mark.store_independent
def test_check_config_masks_secrets(tmp_path):
    env = {"HERALD_JWT_SECRET": "s" * 40, "HERALD_ENCRYPTION_KEY": "ab" * 32,
           "HERALD_DATA_DIR": str(tmp_path / "d")}
    p = run_herald(["check-config"], env=env)
    assert p.returncode == 0, p
    assert "s" * 40 not in p.stdout and "ab" * 32 not in p.stdout, p.stdout
    assert "HERALD_JWT_SECRET=" in p.stdout and "HERALD_ACCESS_TTL=" in p.stdout, p.stdout
    assert "HERALD_DATABASE_URL=sqlite:%s/herald.db" % (tmp_path / "d") in p.stdout, p.stdout
    p = run_herald(["check-config"], env={"HERALD_JWT_SECRET": "short"})
    assert p.returncode != 0 and "HERALD_JWT_SECRET" in p.stderr, p


def test_jwt_key_file_generated(server):
    import os
    import stat
    path = os.path.join(server.data_dir, "jwt.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
