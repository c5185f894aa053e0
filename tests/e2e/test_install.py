"""
`make install` / `make uninstall` into a temporary DESTDIR: the installed binary runs, the
systemd unit starts `herald serve` from the installed path, and uninstall removes both.
"""
import os
import re
import subprocess

import pytest

from conftest import HERALD_BIN, clean_env

# no server, no store: the same on every pass, so SQLite only (NOTES.md)
pytestmark = pytest.mark.store_independent

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make(*args):
    """Runs make in the repository for the build of $HERALD_BIN (release or sanitizer), so that
    the binary under test is the one installed and nothing is rebuilt needlessly."""
    mode = os.path.basename(os.path.dirname(os.path.abspath(HERALD_BIN)))
    if os.path.abspath(HERALD_BIN) != os.path.join(REPO, "build", mode, "herald"):
        pytest.skip("HERALD_BIN is not this repository's build/<mode>/herald")
    extra = ["SANITIZER=address,undefined"] if mode == "san" else []
    return subprocess.run(["make", "-s", "-C", REPO, *extra, *args], env=clean_env(),
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("prefix", ["/usr/local", "/opt/herald"])
def test_make_install_and_uninstall(tmp_path, prefix):
    dest = tmp_path / "root"
    p = make("install", "DESTDIR=%s" % dest, "PREFIX=%s" % prefix)
    assert p.returncode == 0, p.stderr
    binary = dest / prefix.lstrip("/") / "bin" / "herald"
    unit = dest / prefix.lstrip("/") / "lib" / "systemd" / "system" / "herald.service"
    assert binary.is_file() and os.access(binary, os.X_OK)
    v = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=20)
    assert v.returncode == 0 and re.match(r"^herald \S+\n$", v.stdout), v
    text = unit.read_text()
    assert "ExecStart=%s/bin/herald serve\n" % prefix in text, text
    for line in ("User=herald", "Environment=HERALD_DATA_DIR=/var/lib/herald",
                 "WorkingDirectory=/var/lib/herald", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/herald",
                 "WantedBy=multi-user.target"):
        assert line + "\n" in text, line
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    p = make("uninstall", "DESTDIR=%s" % dest, "PREFIX=%s" % prefix)
    assert p.returncode == 0, p.stderr
    assert not binary.exists() and not unit.exists()
