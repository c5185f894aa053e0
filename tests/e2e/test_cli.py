"""
The command line: version, help, check-config output, configuration precedence
(.env < environment < flags), validation of bad settings (check-config and serve),
and the one line `herald serve` prints on stdout.
"""
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

def test_version():
    p = run_herald(["version"])
    assert p.returncode == 0, p
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, p.stdout
    assert "herald" in lines[0].lower() and re.search(r"\d", lines[0]), lines[0]


def test_help():
    p = run_herald(["--help"])
    assert p.returncode == 0, p
    for cmd in ("serve", "check-config", "version"):
        assert cmd in p.stdout, "herald --help does not mention %s:\n%s" % (cmd, p.stdout)


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


def test_unknown_subcommand_fails():
    p = run_herald(["frobnicate"])
    assert p.returncode != 0
    assert "frobnicate" in p.stderr, p.stderr


# ------------------------------------------------------------------ check-config

def test_check_config_prints_settings(tmp_path):
    p = check_config(tmp_path)
    assert p.returncode == 0, p
    cfg = parse_config(p.stdout)
    assert cfg.get("HERALD_LISTEN") == "0.0.0.0:8080", cfg
    assert size_bytes(cfg["HERALD_MAX_BODY"]) == 1 << 20, cfg
    assert size_bytes(cfg["HERALD_WS_MAX_MESSAGE"]) == 64 << 10, cfg
    assert cfg.get("HERALD_LOG_LEVEL") == "info", cfg
    assert cfg.get("HERALD_LOG_FORMAT") == "text", cfg


def test_dotenv_in_working_directory_is_read(tmp_path):
    p = check_config(tmp_path, dotenv="HERALD_LOG_LEVEL=debug\n")
    assert p.returncode == 0, p
    assert parse_config(p.stdout)["HERALD_LOG_LEVEL"] == "debug"


def test_environment_overrides_dotenv(tmp_path):
    p = check_config(tmp_path, env={"HERALD_MAX_BODY": "5k"},
                     dotenv="HERALD_LOG_LEVEL=debug\nHERALD_MAX_BODY=3k\n")
    assert p.returncode == 0, p
    cfg = parse_config(p.stdout)
    assert cfg["HERALD_LOG_LEVEL"] == "debug", cfg      # from .env
    assert size_bytes(cfg["HERALD_MAX_BODY"]) == 5 << 10, cfg  # env wins over .env


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


@pytest.mark.parametrize("name,val", INVALID, ids=["%s=%s" % i for i in INVALID])
def test_check_config_rejects_invalid_setting(tmp_path, name, val):
    p = check_config(tmp_path, env={name: val})
    assert p.returncode != 0, "accepted %s=%s:\n%s" % (name, val, p.stdout)
    assert name in p.stderr, "error does not name %s: %r" % (name, p.stderr)


def test_check_config_rejects_invalid_flag_value(tmp_path):
    p = check_config(tmp_path, args=["--max-body=abc"])
    assert p.returncode != 0
    assert "max-body" in p.stderr or "MAX_BODY" in p.stderr, p.stderr


def test_check_config_rejects_invalid_dotenv_value(tmp_path):
    p = check_config(tmp_path, dotenv="HERALD_MAX_BODY=lots\n")
    assert p.returncode != 0
    assert "HERALD_MAX_BODY" in p.stderr, p.stderr


def test_check_config_rejects_unknown_flag(tmp_path):
    p = check_config(tmp_path, args=["--no-such-flag=1"])
    assert p.returncode != 0
    assert "no-such-flag" in p.stderr, p.stderr


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


def test_serve_reads_dotenv_from_working_directory(server_factory, tmp_path):
    cwd = tmp_path / "app"
    cwd.mkdir()
    (cwd / ".env").write_text("HERALD_MAX_BODY=1k\n")
    s = server_factory(cwd=str(cwd))
    r = http_request(s.port, "POST", "/health", body=b"x" * 2000)
    assert r.status == 413, r


# ---------------------------------------------------------------- store (zero-config SQLite)

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


def test_database_settings_validated():
    p = run_herald(["check-config"], env={"HERALD_DATABASE_URL": "mysql://x/y"})
    assert p.returncode != 0 and "HERALD_DATABASE_URL" in p.stderr
    p = run_herald(["check-config"], env={"HERALD_DURABILITY": "sometimes"})
    assert p.returncode != 0 and "HERALD_DURABILITY" in p.stderr
    p = run_herald(["check-config"],
                   env={"HERALD_DATABASE_URL": "postgres://u:hunter2pw@127.0.0.1:5432/db"})
    assert p.returncode == 0
    assert "hunter2pw" not in p.stdout and "HERALD_DATABASE_URL=postgres://u:****@" in p.stdout
