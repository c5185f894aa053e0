"""The web UI as the server serves it (docs/ui.md): the UI built into the binary when
HERALD_STATIC_DIR is unset, "/" redirecting to /chat, the branding placeholders of index.html
filled (HTML-escaped) from HERALD_APP_TITLE and HERALD_APP_DESCRIPTION, the gzipped twins
served to clients that accept gzip, and the plain page of a binary built without Node.js."""
import gzip
import os
import re

import pytest

from conftest import http_get, http_request

# serving the UI's files: SQLite only (NOTES.md, "Which tests run on PostgreSQL too")
pytestmark = pytest.mark.store_independent

BRANDED = (b"<!doctype html><html><head><title>__HERALD_APP_TITLE__</title>"
           b'<meta name="application-name" content="__HERALD_APP_TITLE__">'
           b'<meta name="description" content="__HERALD_APP_DESCRIPTION__"></head>'
           b"<body>__HERALD_APP_TITLE__ / __HERALD_APP_DESCRIPTION__</body></html>\n")


def test_built_in_ui(server_factory):
    s = server_factory()  # no HERALD_STATIC_DIR: the UI built into the binary
    r = http_get(s.port, "/?token=abc")
    chat = http_get(s.port, "/chat")
    assert chat.status == 200, chat
    assert (chat.header("Content-Type") or "").startswith("text/html"), chat
    if b"was not built" in chat.body:
        # built without Node.js: / and the SPA routes say so; the API works
        assert r.status == 200 and b"was not built" in r.body, r
        assert http_get(s.port, "/admin").status == 200
        assert http_get(s.port, "/health").status == 200
        return
    assert r.status == 302 and r.header("Location") == "/chat?token=abc", r
    assert b"<title>Herald</title>" in chat.body, chat.body[:400]
    assert b"__HERALD_" not in chat.body
    assert http_get(s.port, "/admin/apps").body == chat.body
    assert http_get(s.port, "/login").body == chat.body
    scripts = re.findall(rb'src="(/assets/[^"]+\.js)"', chat.body)
    assert scripts, chat.body
    js = http_get(s.port, scripts[0].decode())
    assert js.status == 200 and js.header("Content-Type").startswith("text/javascript"), js
    assert http_get(s.port, "/assets/nothing-here.js").status == 404
    assert http_get(s.port, "/.vite/manifest.json").status == 404  # hidden: never served


def test_branding_is_escaped(server_factory, tmp_path):
    root = tmp_path / "ui"
    root.mkdir()
    (root / "index.html").write_bytes(BRANDED)
    s = server_factory(env={"HERALD_STATIC_DIR": str(root),
                            "HERALD_APP_TITLE": 'Acme <b>"Hub"</b> & Co',
                            "HERALD_APP_DESCRIPTION": "Talk to us <script>x</script>"})
    r = http_get(s.port, "/chat")
    assert r.status == 200, r
    title = b"Acme &lt;b&gt;&quot;Hub&quot;&lt;/b&gt; &amp; Co"
    desc = b"Talk to us &lt;script&gt;x&lt;/script&gt;"
    assert r.body == BRANDED.replace(b"__HERALD_APP_TITLE__", title).replace(
        b"__HERALD_APP_DESCRIPTION__", desc), r.body
    # the ETag follows the branded content
    etag = r.header("ETag")
    s2 = server_factory(env={"HERALD_STATIC_DIR": str(root), "HERALD_APP_TITLE": "Other"})
    r2 = http_get(s2.port, "/chat")
    assert b"<title>Other</title>" in r2.body and b'content=""' in r2.body, r2.body
    assert r2.header("ETag") != etag


def test_static_dir_overrides_built_in(server_factory, tmp_path):
    root = tmp_path / "ui"
    root.mkdir()
    (root / "index.html").write_bytes(b"<p>mine</p>")
    s = server_factory(env={"HERALD_STATIC_DIR": str(root)})
    assert http_get(s.port, "/admin").body == b"<p>mine</p>"
    # a folder that does not exist: no UI at all, the API still answers
    s2 = server_factory(env={"HERALD_STATIC_DIR": os.path.join(str(tmp_path), "none")})
    assert http_get(s2.port, "/chat").status == 404
    assert http_get(s2.port, "/health").status == 200


def test_gzip_twin_served_to_gzip_clients(server_factory, tmp_path):
    root = tmp_path / "ui"
    (root / "assets").mkdir(parents=True)
    js = b"console.log('herald');\n" * 200
    gz = gzip.compress(js, 9)
    (root / "index.html").write_bytes(b"<p>ui</p>")
    (root / "assets" / "app.js").write_bytes(js)
    (root / "assets" / "app.js.gz").write_bytes(gz)
    (root / "assets" / "plain.css").write_bytes(b"body{}")
    s = server_factory(env={"HERALD_STATIC_DIR": str(root)})
    plain = http_request(s.port, "GET", "/assets/app.js")
    assert plain.status == 200 and plain.body == js, plain
    assert plain.header("Content-Encoding") is None
    assert plain.header("Vary") == "Accept-Encoding"
    for ae in ("gzip", "gzip, deflate, br, zstd", "br;q=1.0, GZIP;q=0.5"):
        r = http_request(s.port, "GET", "/assets/app.js", headers={"Accept-Encoding": ae})
        assert r.status == 200, (ae, r)
        assert r.header("Content-Encoding") == "gzip", (ae, r)
        assert r.header("Content-Type").startswith("text/javascript"), r
        assert r.header("Vary") == "Accept-Encoding"
        assert gzip.decompress(r.body) == js
        assert r.header("ETag") != plain.header("ETag")
    for ae in ("deflate, br", "gzip;q=0", "identity", "x-gzip"):
        r = http_request(s.port, "GET", "/assets/app.js", headers={"Accept-Encoding": ae})
        assert r.body == js and r.header("Content-Encoding") is None, (ae, r)
    # HEAD and a conditional GET on the compressed form
    h = http_request(s.port, "HEAD", "/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert h.status == 200 and h.header("Content-Length") == str(len(gz)) and h.body == b"", h
    etag = h.header("ETag")
    r = http_request(s.port, "GET", "/assets/app.js",
                     headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert r.status == 304 and r.body == b"", r
    # a file without a twin: no Vary, no encoding
    r = http_request(s.port, "GET", "/assets/plain.css", headers={"Accept-Encoding": "gzip"})
    assert r.body == b"body{}" and r.header("Content-Encoding") is None and r.header("Vary") is None


def test_built_in_assets_are_compressed(server_factory):
    s = server_factory()
    chat = http_get(s.port, "/chat")
    scripts = re.findall(rb'src="(/assets/[^"]+\.js)"', chat.body)
    if b"was not built" in chat.body:
        assert not scripts
        return
    path = scripts[0].decode()
    plain = http_get(s.port, path)
    r = http_request(s.port, "GET", path, headers={"Accept-Encoding": "gzip, deflate"})
    assert r.header("Content-Encoding") == "gzip", r
    assert gzip.decompress(r.body) == plain.body
    assert len(r.body) < len(plain.body)
