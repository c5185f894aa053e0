"""
/api/docs (src/apidoc): the browsable page and the OpenAPI 3 document the server serves, and
every operation the document names answered by a route of the running server.

tests/unit/test_apidoc.c compares the document with the router the server builds, both ways;
here the real binary is asked: each documented operation, requested without credentials,
must not get the router's own answers for a path it does not know (404 "no route for ...")
or a method the path does not take (405 method_not_allowed). The handler's answer (401, 422,
404 for an unknown object, ...) does not matter.
"""
import base64
import hashlib
import json
import re

import pytest

from conftest import http_get, http_request

# serving a document built into the binary and matching routes: nothing here depends on the
# store backend (NOTES.md, "Which tests run on PostgreSQL too")
pytestmark = pytest.mark.store_independent

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def get_document(port, path="/api/docs/openapi.json"):
    r = http_get(port, path)
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("application/json"), r
    return r, json.loads(r.body.decode("utf-8"))


def test_docs_page_is_html_whose_script_the_csp_allows(server):
    r = http_get(server.port, "/api/docs")
    assert r.status == 200, r
    assert (r.header("Content-Type") or "").startswith("text/html"), r
    assert r.header("X-Content-Type-Options") == "nosniff", r
    page = r.body.decode("utf-8")
    assert "openapi.json" in page
    # self-contained: no script or style from elsewhere
    assert not re.search(r"<script[^>]*\bsrc=", page), "the page loads an external script"
    assert not re.search(r"<link[^>]*stylesheet", page), "the page loads an external stylesheet"
    # the one inline script and style run under the page's CSP: their hashes are allowed
    csp = r.header("Content-Security-Policy") or ""
    assert "default-src 'none'" in csp, csp
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        inline = re.findall(r"<%s>(.*?)</%s>" % (tag, tag), page, re.S)
        assert len(inline) == 1, tag
        digest = base64.b64encode(hashlib.sha256(inline[0].encode("utf-8")).digest()).decode()
        assert re.search(r"%s [^;]*'sha256-%s'" % (directive, re.escape(digest)), csp), (tag, csp)
    assert "connect-src 'self'" in csp, csp  # the script fetches the document


def test_openapi_document(server):
    r, doc = get_document(server.port)
    assert str(doc["openapi"]).startswith("3."), doc["openapi"]
    assert doc["info"]["title"] and doc["info"]["version"], doc["info"]
    assert isinstance(doc["paths"], dict) and len(doc["paths"]) > 50
    for path in ("/health", "/api/docs", "/api/v1/users/{id}", "/api/v1/notifications", "/ws"):
        assert path in doc["paths"], path
    assert {"Error", "Page", "User", "Conversation", "Message", "Notification",
            "Delivery"} <= set(doc["components"]["schemas"])
    assert {"userBearer", "appKey", "appSecret", "appBearer",
            "operatorBearer"} <= set(doc["components"]["securitySchemes"])
    # the alias answers the same bytes
    r2, _ = get_document(server.port, "/api/openapi.json")
    assert r2.body == r.body
    # GET routes answer HEAD too
    h = http_request(server.port, "HEAD", "/api/docs/openapi.json")
    assert h.status == 200 and h.header("Content-Length") == str(len(r.body)), h


def concrete(path):
    """A request path for a path template: each {param} becomes a plausible id."""
    if path == "/media/{path}":
        return "/media/uploads/2026/01/01/x1.png"
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_documented_operation_is_routed(server):
    _, doc = get_document(server.port)
    checked = 0
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            body = b"{}" if method in ("post", "put", "patch") else None
            headers = {"Content-Type": "application/json"} if body is not None else None
            r = http_request(server.port, method.upper(), concrete(path), headers, body)
            what = "%s %s -> %r" % (method.upper(), path, r)
            assert r.status != 405, what
            if r.status == 404 and r.body:
                err = r.json().get("error", {})
                assert not err.get("message", "").startswith("no route for"), what
            checked += 1
    assert checked > 100
