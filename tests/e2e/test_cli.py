"""
The command line: version, help, check-config output, configuration precedence
(.env < environment < flags), validation of bad settings (check-config and serve),
and the one line `herald serve` prints on stdout.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import HERALD_BIN, clean_env, http_get, http_request, run_herald

SETTING_LINE = re.compile(r"^(HERALD_[A-Z0-9_]+)=(.*)$")


def parse_config(stdout):
    """check-config output -> {NAME: value}; every non-empty, non-comment line must be
    NAME=value."""
    out = {}
    for line in stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SETTING_LINE.match(line)
        assert m, "check-config printed a line that is not NAME=value: %r" % line
        v = m.group(2)
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1]
        out[m.group(1)] = v
    return out


def size_bytes(v):
    """'2097152', '2m', '2M', '2MiB', '2 MiB', '3k' ... -> bytes."""
    m = re.match(r"^\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*$", v)
    assert m, "not a size: %r" % v
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(m.group(1)) * mult


def check_config(tmp_path, env=None, args=(), dotenv=None):
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    if dotenv is not None:
        (cwd / ".env").write_text(dotenv)
    return run_herald(["check-config", *args], env=env, cwd=str(cwd))


# ------------------------------------------------------------------ version / help

@pytest.mark.store_independent
def test_version():
    p = run_herald(["version"])
    assert p.returncode == 0, p
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, p.stdout
    assert "herald" in lines[0].lower() and re.search(r"\d", lines[0]), lines[0]
    for extra in (["extra"], ["--bogus"]):
        p = run_herald(["version", *extra])
        assert p.returncode == 2 and extra[0] in p.stderr and p.stdout == "", p


@pytest.mark.store_independent
def test_user_import_of_a_missing_file_creates_nothing(tmp_path):
    p = run_herald(["user", "import", str(tmp_path / "missing.jsonl")], cwd=str(tmp_path))
    assert p.returncode == 1 and "cannot read" in p.stderr and "missing.jsonl" in p.stderr, p
    assert sorted(os.listdir(tmp_path)) == [], os.listdir(tmp_path)


@pytest.mark.store_independent
def test_help():
    p = run_herald(["--help"])
    assert p.returncode == 0, p
    for cmd in ("serve", "check-config", "version"):
        assert cmd in p.stdout, "herald --help does not mention %s:\n%s" % (cmd, p.stdout)


@pytest.mark.store_independent
@pytest.mark.parametrize("cmd", ["serve", "check-config"])
def test_subcommand_help_lists_settings(cmd):
    p = run_herald([cmd, "--help"])
    assert p.returncode == 0, p
    text = p.stdout
    for flag, var in (("--listen", "HERALD_LISTEN"), ("--max-body", "HERALD_MAX_BODY"),
                      ("--log-level", "HERALD_LOG_LEVEL")):
        assert flag in text or var in text, "%s --help mentions neither %s nor %s:\n%s" % (
            cmd, flag, var, text)
    assert "listening on" not in p.stdout  # --help must not start a server


@pytest.mark.store_independent
def test_unknown_subcommand_fails():
    p = run_herald(["frobnicate"])
    assert p.returncode != 0
    assert "frobnicate" in p.stderr, p.stderr


# ------------------------------------------------------------------ check-config

@pytest.mark.store_independent
def test_check_config_prints_settings(tmp_path):
    p = check_config(tmp_path)
    assert p.returncode == 0, p
    cfg = parse_config(p.stdout)
    assert cfg.get("HERALD_LISTEN") == "0.0.0.0:8080", cfg
    assert size_bytes(cfg["HERALD_MAX_BODY"]) == 1 << 20, cfg
    assert size_bytes(cfg["HERALD_WS_MAX_MESSAGE"]) == 64 << 10, cfg
    assert cfg.get("HERALD_LOG_LEVEL") == "info", cfg
    assert cfg.get("HERALD_LOG_FORMAT") == "text", cfg


@pytest.mark.store_independent
def test_dotenv_in_working_directory_is_read(tmp_path):
    p = check_config(tmp_path, dotenv="HERALD_LOG_LEVEL=debug\n")
    assert p.returncode == 0, p
    assert parse_config(p.stdout)["HERALD_LOG_LEVEL"] == "debug"


@pytest.mark.store_independent
def test_environment_overrides_dotenv(tmp_path):
    p = check_config(tmp_path, env={"HERALD_MAX_BODY": "5k"},
                     dotenv="HERALD_LOG_LEVEL=debug\nHERALD_MAX_BODY=3k\n")
    assert p.returncode == 0, p
    cfg = parse_config(p.stdout)
    assert cfg["HERALD_LOG_LEVEL"] == "debug", cfg      # from .env
    assert size_bytes(cfg["HERALD_MAX_BODY"]) == 5 << 10, cfg  # env wins over .env


@pytest.mark.store_independent
@pytest.mark.parametrize("args", [["--log-level=warn", "--max-body", "2m"],
                                  ["--log-level", "warn", "--max-body=2m"]],
                         ids=["equals-then-space", "space-then-equals"])
def test_flags_win_over_environment_and_dotenv(tmp_path, args):
    p = check_config(tmp_path, env={"HERALD_MAX_BODY": "5k", "HERALD_LOG_LEVEL": "error"},
                     args=args, dotenv="HERALD_LOG_LEVEL=debug\nHERALD_MAX_BODY=3k\n")
    assert p.returncode == 0, p
    cfg = parse_config(p.stdout)
    assert cfg["HERALD_LOG_LEVEL"] in ("warn", "warning"), cfg
    assert size_bytes(cfg["HERALD_MAX_BODY"]) == 2 << 20, cfg


INVALID = [
    ("HERALD_MAX_BODY", "abc"),
    ("HERALD_LISTEN", "nonsense:99999"),
    ("HERALD_WORKERS", "0"),
    ("HERALD_LOG_FORMAT", "xml"),
    ("HERALD_LOG_LEVEL", "loud"),
    ("HERALD_WS_HEARTBEAT", "soon"),
]


@pytest.mark.store_independent
@pytest.mark.parametrize("name,val", INVALID, ids=["%s=%s" % i for i in INVALID])
def test_check_config_rejects_invalid_setting(tmp_path, name, val):
    p = check_config(tmp_path, env={name: val})
    assert p.returncode != 0, "accepted %s=%s:\n%s" % (name, val, p.stdout)
    assert name in p.stderr, "error does not name %s: %r" % (name, p.stderr)


@pytest.mark.store_independent
def test_check_config_rejects_invalid_flag_value(tmp_path):
    p = check_config(tmp_path, args=["--max-body=abc"])
    assert p.returncode != 0
    assert "max-body" in p.stderr or "MAX_BODY" in p.stderr, p.stderr


@pytest.mark.store_independent
def test_check_config_rejects_invalid_dotenv_value(tmp_path):
    p = check_config(tmp_path, dotenv="HERALD_MAX_BODY=lots\n")
    assert p.returncode != 0
    assert "HERALD_MAX_BODY" in p.stderr, p.stderr


@pytest.mark.store_independent
def test_check_config_rejects_unknown_flag(tmp_path):
    p = check_config(tmp_path, args=["--no-such-flag=1"])
    assert p.returncode != 0
    assert "no-such-flag" in p.stderr, p.stderr


@pytest.mark.store_independent
@pytest.mark.parametrize("args", [["migrate"], ["app", "list"], ["user", "import", "f.jsonl"],
                                  ["admin", "create", "bob", "--password-stdin"], ["check-config"]])
def test_an_unknown_flag_points_to_its_own_commands_help(tmp_path, args):
    (tmp_path / "f.jsonl").write_text('{"id": "u1"}\n')
    p = run_herald(args + ["--no-such-flag=1"], cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "unknown flag --no-such-flag (see herald %s --help)" % args[0] in p.stderr, p.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.store_independent
@pytest.mark.parametrize("name,val", INVALID[:4], ids=["%s=%s" % i for i in INVALID[:4]])
def test_serve_refuses_to_start_with_invalid_setting(tmp_path, name, val):
    env = {"HERALD_LISTEN": "127.0.0.1:0", "HERALD_DATA_DIR": str(tmp_path / "data")}
    env[name] = val
    p = subprocess.Popen([HERALD_BIN, "serve"], env=clean_env(env), cwd=str(tmp_path),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail("herald serve kept running with %s=%s" % (name, val))
    assert p.returncode != 0
    assert "listening on" not in out, out
    assert name in err, "error does not name %s: %r" % (name, err)


# ------------------------------------------------------------------ serve output

def test_serve_prints_exactly_one_listening_line(server_factory):
    s = server_factory()
    assert http_get(s.port, "/health").status == 200
    s.stop()
    assert s.stdout_text().splitlines() == ["listening on 127.0.0.1:%d" % s.port], \
        s.stdout_text()


@pytest.mark.store_independent
def test_serve_reads_dotenv_from_working_directory(server_factory, tmp_path):
    cwd = tmp_path / "app"
    cwd.mkdir()
    (cwd / ".env").write_text("HERALD_MAX_BODY=1k\n")
    s = server_factory(cwd=str(cwd))
    r = http_request(s.port, "POST", "/health", body=b"x" * 2000)
    assert r.status == 413, r


@pytest.mark.store_independent
def test_first_start_creates_the_database_and_media_folder_under_data(server_factory):
    # SPEC §1: the embedded database and the media folder under ./data, before any upload
    s = server_factory()
    data = s.data_dir
    assert os.path.isfile(os.path.join(data, "herald.db"))
    media = os.path.join(data, "media")
    assert os.path.isdir(media)
    assert (os.stat(media).st_mode & 0o007) == 0, oct(os.stat(media).st_mode)  # not world-readable


# ---------------------------------------------------------------- store (zero-config SQLite)

@pytest.mark.store_independent
def test_migrate_creates_and_upgrades_sqlite_in_data_dir(tmp_path):
    env = {"HERALD_DATA_DIR": str(tmp_path / "data")}
    p = run_herald(["migrate"], env=env)
    assert p.returncode == 0, p
    assert re.search(r"schema version [1-9]", p.stdout), p.stdout
    db = tmp_path / "data" / "herald.db"
    assert db.exists()
    assert (db.stat().st_mode & 0o077) == 0  # holds secrets later: owner only
    again = run_herald(["migrate"], env=env)
    assert again.returncode == 0 and again.stdout == p.stdout


@pytest.mark.store_independent
def test_database_settings_validated():
    p = run_herald(["check-config"], env={"HERALD_DATABASE_URL": "mysql://x/y"})
    assert p.returncode != 0 and "HERALD_DATABASE_URL" in p.stderr
    p = run_herald(["check-config"], env={"HERALD_DURABILITY": "sometimes"})
    assert p.returncode != 0 and "HERALD_DURABILITY" in p.stderr
    # what libpq would refuse at start is refused here, the password never echoed
    for url, why in (("postgres://u:hunter2pw@h:abc/db", "port"),
                     ("postgres://u:hunter2pw@h:99999/db", "port"),
                     ("postgres://u:hunter2pw@h/db?sslmode=bogus", "sslmode"),
                     ("postgres://u:hunter2pw@h/db?connect_timeout=x", "connect_timeout"),
                     ("postgres://u:hunter2pw%zz@h/db", "percent-encoding"),
                     ("postgres://u:hunter2pw@h/db?bogus=1", "query parameters")):
        p = run_herald(["check-config"], env={"HERALD_DATABASE_URL": url})
        assert p.returncode == 2 and "HERALD_DATABASE_URL" in p.stderr, (url, p)
        assert why in p.stderr and "hunter2pw" not in p.stderr + p.stdout, (url, p)
    p = run_herald(["check-config"],
                   env={"HERALD_DATABASE_URL": "postgres://u:hunter2pw@127.0.0.1:5432/db"})
    assert p.returncode == 0
    assert "hunter2pw" not in p.stdout and "HERALD_DATABASE_URL=postgres://u:****@" in p.stdout


# ---------------------------------------------------------------- start-up refusals (issue 7)

def run_serve(env, cwd, timeout=15):
    """Runs `herald serve` that is expected to refuse to start; returns (rc, stdout, stderr)."""
    p = subprocess.Popen([HERALD_BIN, "serve"], env=clean_env(env), cwd=str(cwd),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.terminate()
        out, err = p.communicate()
        pytest.fail("herald serve kept running (%s)\nstdout:\n%s\nstderr:\n%s" % (env, out, err))
    return p.returncode, out, err


@pytest.mark.store_independent
def test_second_server_on_a_taken_port_fails_before_creating_anything(server_factory, tmp_path):
    first = server_factory()
    data = tmp_path / "other" / "data"
    rc, out, err = run_serve({"HERALD_LISTEN": "127.0.0.1:%d" % first.port,
                              "HERALD_DATA_DIR": str(data)}, tmp_path)
    assert rc != 0, err
    assert "listening on" not in out, out
    assert "address already in use" in err.lower(), err
    assert "127.0.0.1:%d" % first.port in err, err
    # nothing was created: no database, no keys (not even the folder)
    assert not data.exists(), list(data.rglob("*"))
    assert http_get(first.port, "/health").status == 200


def test_second_server_on_the_same_data_folder_fails(server_factory, tmp_path):
    first = server_factory()
    before = sorted(p.name for p in __import__("pathlib").Path(first.data_dir).iterdir())
    rc, out, err = run_serve({"HERALD_LISTEN": "127.0.0.1:0",
                              "HERALD_DATA_DIR": first.data_dir}, tmp_path)
    assert rc != 0, err
    assert "listening on" not in out, out
    assert first.data_dir in err and "HERALD_DATA_DIR" in err, err
    assert "in use" in err, err
    after = sorted(p.name for p in __import__("pathlib").Path(first.data_dir).iterdir())
    assert after == before
    assert http_get(first.port, "/health").status == 200


@pytest.mark.store_independent
def test_a_refused_start_is_a_json_line_with_json_logs(server_factory, tmp_path):
    # a log shipper reading a JSON-format server must be able to read why it did not start
    first = server_factory()
    env = {"HERALD_LISTEN": "127.0.0.1:%d" % first.port, "HERALD_DATA_DIR": str(tmp_path / "d"),
           "HERALD_LOG_FORMAT": "json"}
    rc, out, err = run_serve(env, tmp_path)
    assert rc == 1, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines, "nothing said"
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError("stderr line is not JSON with HERALD_LOG_FORMAT=json: %r"
                                 % line) from None
        assert obj["level"] == "error" and obj["mod"] == "main", obj
    assert "address already in use" in lines[-1].lower(), lines
    # the same refusal in the text format keeps its "herald: " line
    env["HERALD_LOG_FORMAT"] = "text"
    rc, out, err = run_serve(env, tmp_path)
    assert rc == 1 and err.startswith("herald: ") and "already in use" in err.lower(), err


@pytest.mark.store_independent
@pytest.mark.parametrize("name,val", [("HERALD_ENCRYPTION_KEY", "abc"),
                                      ("HERALD_LISTEN", "no-such-host.invalid:8080")])
def test_check_config_makes_the_checks_serve_makes(tmp_path, name, val):
    p = check_config(tmp_path, env={name: val})
    assert p.returncode == 2, "check-config accepted %s=%s:\n%s" % (name, val, p.stdout)
    assert name in p.stderr, p.stderr
    data = tmp_path / "data"
    rc, out, err = run_serve({"HERALD_DATA_DIR": str(data), name: val}, tmp_path)
    assert rc == 2 and name in err, err
    assert not data.exists(), "serve touched the data folder before checking %s" % name


@pytest.mark.store_independent
def test_unwritable_data_folder_is_named_once(tmp_path):
    # /proc/self exists but nothing can be created in it (even as root)
    for cmd in (["migrate"], ["serve"]):
        p = run_herald(cmd, env={"HERALD_DATA_DIR": "/proc/self", "HERALD_LISTEN": "127.0.0.1:0"},
                       timeout=15)
        assert p.returncode != 0, p
        assert p.stderr.count("HERALD_DATA_DIR") == 1, p.stderr
        assert "/proc/self" in p.stderr and "HERALD_DATABASE_URL" not in p.stderr, p.stderr


@pytest.mark.store_independent
def test_postgres_password_redaction_keeps_the_message_readable():
    # a one-letter password must not blank that letter in the rest of the message
    p = run_herald(["migrate"], env={"HERALD_DATABASE_URL": "postgres://u:p@127.0.0.1:1/db"})
    assert p.returncode != 0
    assert "port 1 failed" in p.stderr, p.stderr
    assert "*" not in p.stderr, p.stderr
    # a password that libpq echoes (a bad percent escape) is still hidden
    p = run_herald(["migrate"],
                   env={"HERALD_DATABASE_URL": "postgres://u:s3cr%zzet@127.0.0.1:1/db"})
    assert p.returncode != 0
    assert "s3cr" not in p.stderr and "zzet" not in p.stderr, p.stderr
    assert p.stderr.count("HERALD_DATABASE_URL") == 1, p.stderr


# ---------------------------------------------------------------- CLI writes are audited

def test_cli_writes_are_in_the_audit_log(server_factory):
    import json
    s = server_factory()
    pw = "correct horse battery"
    p = run_herald(["admin", "create", "root", "--password-stdin"], env=s.cli_env(),
                   input=pw + "\n")
    assert p.returncode == 0, p
    for bad in ("two\nlines", "tab\there", "bell\x07"):  # one line, as the API wants
        p = run_herald(["app", "create", bad], env=s.cli_env())
        assert p.returncode == 1 and "one line" in p.stderr, p
    p = run_herald(["app", "create", "Shop from CLI"], env=s.cli_env())
    assert p.returncode == 0, p
    key = re.search(r"^key=(\S+)$", p.stdout, re.M).group(1)
    secret = re.search(r"^secret=(\S+)$", p.stdout, re.M).group(1)
    p = run_herald(["app", "secret", key], env=s.cli_env())
    assert p.returncode == 0, p
    secret2 = re.search(r"^secret=(\S+)$", p.stdout, re.M).group(1)
    r = http_request(s.port, "POST", "/api/v1/admin/auth/login",
                     headers={"Content-Type": "application/json"},
                     body=json.dumps({"username": "root", "password": pw}).encode())
    assert r.status == 200, r
    auth = {"Authorization": "Bearer " + r.json()["access_token"]}
    log = http_request(s.port, "GET", "/api/v1/admin/audit-log?page_size=100", headers=auth)
    assert log.status == 200, log
    body = log.body.decode()
    assert secret not in body and secret2 not in body
    entries = log.json()["results"]
    create = [e for e in entries if e["action"] == "app.create"]
    assert len(create) == 1, entries
    e = create[0]
    for bad in ("two\nlines", "tab\there", "del\u007f"):
        r = http_request(s.port, "POST", "/api/v1/admin/apps",
                         headers=dict(auth, **{"Content-Type": "application/json"}),
                         body=json.dumps({"name": bad}).encode())
        assert r.status == 422 and r.json()["error"]["field"] == "name", r
        assert "one line" in r.json()["error"]["message"], r
    assert e["operator_name"] == "cli" and e["ip"] == "local", e
    detail = e["detail"] if isinstance(e["detail"], dict) else json.loads(e["detail"])
    assert detail.get("name") == "Shop from CLI" and detail.get("key") == key, e
    app_id = e["target"]
    assert detail.get("id") == app_id, e
    added = [e for e in entries if e["action"].startswith("app.secret")]
    assert len(added) == 1 and added[0]["operator_name"] == "cli", entries
    assert added[0]["app_id"] == app_id, added
    # the console's app.create has a detail too
    r = http_request(s.port, "POST", "/api/v1/admin/apps", headers=dict(auth, **{
        "Content-Type": "application/json"}), body=b'{"name": "Console shop"}')
    assert r.status == 201, r
    log = http_request(s.port, "GET", "/api/v1/admin/audit-log?action=app.create", headers=auth)
    e = log.json()["results"][0]
    detail = e["detail"] if isinstance(e["detail"], dict) else json.loads(e["detail"])
    assert detail.get("name") == "Console shop" and detail.get("id") == r.json()["id"], e
    assert r.json()["secret"] not in log.body.decode()


# ---------------------------------------------------------------- CLI polish

@pytest.mark.store_independent
def test_migrate_help_lists_only_its_flags():
    p = run_herald(["migrate", "--help"])
    assert p.returncode == 0, p
    assert "--database-url" in p.stdout and "--data-dir" in p.stdout, p.stdout
    for serve_only in ("--listen", "--max-body", "--ws-heartbeat", "--cors-origins"):
        assert serve_only not in p.stdout, p.stdout


@pytest.mark.store_independent
def test_help_command_prints_the_help_of_a_command():
    p = run_herald(["help", "serve"])
    assert p.returncode == 0, p
    assert p.stdout == run_herald(["serve", "--help"]).stdout
    assert "--listen" in p.stdout
    assert run_herald(["help", "migrate"]).stdout == run_herald(["migrate", "--help"]).stdout
    p = run_herald(["help", "nonsense"])
    assert p.returncode != 0 and "nonsense" in p.stderr


def description_columns(lines):
    cols = set()
    for line in lines:
        m = re.match(r"^  (\S.*?\S)\s{2,}(\S.*)$", line) or re.match(r"^  (\S+)\s{2,}(\S.*)$", line)
        if m:
            cols.add(m.start(2))
        elif re.match(r"^\s+\[", line):
            cols.add(line.index("["))
    return cols


@pytest.mark.store_independent
def test_help_columns_are_aligned():
    p = run_herald(["--help"])
    block = p.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(description_columns(block)) == 1, block
    for cmd in ("serve", "migrate", "check-config"):
        text = run_herald([cmd, "--help"]).stdout
        flags = [l for l in text.splitlines() if l.startswith("  ")]
        assert flags and len(description_columns(flags)) == 1, text


@pytest.mark.store_independent
def test_cli_commands_are_quiet_unless_verbose(tmp_path):
    env = {"HERALD_DATA_DIR": str(tmp_path / "data")}
    p = run_herald(["migrate"], env=env)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run_herald(["app", "list"], env=env)  # warnings stay (a new key file to back up)
    assert p.returncode == 0 and " info " not in p.stderr, p.stderr
    p = run_herald(["app", "list"], env=env)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run_herald(["migrate", "--verbose"], env=env)
    assert p.returncode == 0 and "info" in p.stderr and "store" in p.stderr, p.stderr


@pytest.mark.store_independent
def test_mismatched_password_prompts_print_one_error(tmp_path):
    import os
    import pty
    import select
    import time
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    p = subprocess.Popen([HERALD_BIN, "admin", "create", "root"],
                         env=clean_env({"HERALD_DATA_DIR": str(tmp_path / "data")}),
                         cwd=str(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: os.close(os.open(name, os.O_RDWR)))
    os.close(slave)
    def answer(prompt, text):
        # the prompt turns echo off with TCSAFLUSH, which drops input typed before it
        seen = b""
        deadline = time.monotonic() + 20
        while prompt not in seen and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            try:
                seen += os.read(master, 1024) if r else b""
            except OSError:  # EIO until herald has opened /dev/tty
                time.sleep(0.05)
        assert prompt in seen, seen
        time.sleep(0.2)
        os.write(master, text)

    try:
        answer(b"Password:", b"first password 1\n")
        answer(b"Repeat", b"other password 2\n")
        out, err = p.communicate(timeout=20)
    finally:
        os.close(master)
    assert p.returncode != 0
    lines = [l for l in err.splitlines() if l.startswith("herald:")]
    assert len(lines) == 1 and "differ" in lines[0], err


@pytest.mark.store_independent
def test_listen_accepts_a_host_name(tmp_path, server_factory):
    p = check_config(tmp_path, env={"HERALD_LISTEN": "localhost:8080"})
    assert p.returncode == 0, p.stderr
    assert parse_config(p.stdout)["HERALD_LISTEN"] in ("127.0.0.1:8080", "[::1]:8080")
    s = server_factory({"HERALD_LISTEN": "localhost:0"})
    assert http_get(s.port, "/health").status == 200


@pytest.mark.store_independent
@pytest.mark.parametrize("name", ["HERALD_IDLE_TIMEOUT", "HERALD_ACCESS_TTL",
                                  "HERALD_WS_HEARTBEAT"])
def test_duration_needs_a_unit(tmp_path, name):
    p = check_config(tmp_path, env={name: "60"})
    assert p.returncode == 2, p.stdout
    assert name in p.stderr and "unit" in p.stderr, p.stderr
    p = check_config(tmp_path, env={name: "60s" if name != "HERALD_ACCESS_TTL" else "60m"})
    assert p.returncode == 0, p.stderr


@pytest.mark.store_independent
def test_user_import_counts_in_singular(tmp_path):
    f = tmp_path / "one.jsonl"
    f.write_text('{"id": "u1", "name": "One"}\n')
    p = run_herald(["user", "import", str(f)], env={"HERALD_DATA_DIR": str(tmp_path / "data")})
    assert p.returncode == 0, p
    assert "imported 1 user into app default" in p.stdout, p.stdout
    assert "1 users" not in p.stdout + p.stderr
