"""
Every shell example in README.md and docs/ runs, as written, against a real server.

Extraction. Fenced blocks whose info string is `sh` are examples and are run. A block
that truly cannot run in a test (`make run`, a service manager, a benchmark of minutes)
is fenced `sh norun`: it is still highlighted as shell, and never run. Any other
shell-like fence (`bash`, `shell`, `console`, `zsh`, or `sh` with another word) is an
error, so a new example is either run or visibly marked. Other fences (plain, `text`,
`json`, `c`) are not examples.

Running. One fresh `herald serve` per document (conftest.Server, on 127.0.0.1:0, its data
folder in the working directory as `./data`). The blocks of a document run in order, each
with `bash -euo pipefail`, in that working directory, with a `herald` on PATH that is
$HERALD_BIN; variables a block sets are kept for the blocks after it (the reader's shell
session), nothing else is carried. The only rewrite is the address: `localhost:8080` and
`127.0.0.1:8080` become the test server's address. Every command must exit 0.

Expected output. Inside a block, lines `# → TEXT` state what the commands above them
(since the previous `# →` lines) print on stdout: the lines must match exactly, with `…`
(or `...`) standing for any text within a line. Lines `# > TEXT` are what the reader
types into an interactive program (the WebSocket client): the block then gets those lines
on stdin, the `# →` lines must appear in that order among the lines it prints, and stdin
is closed (Ctrl-D) once they have. A `curl` whose output no `# →` line checks must use
`-f`/`--fail`, so an error status fails the example.
"""
import os
import re
import select
import subprocess
import time

import pytest

from conftest import HERALD_BIN, Server, clean_env, sanitizer_problems

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_ADDR = re.compile(r"\b(?:localhost|127\.0\.0\.1):8080\b")
SHELL_LANGS = {"sh", "bash", "shell", "console", "zsh", "shell-session", "shellsession"}
FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*(.*)$")  # any indent: fences inside list items too
EXPECT = re.compile(r"^\s*# →(?: (.*))?$")
TYPED = re.compile(r"^\s*# > (.*)$")
ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|[78])")
ELLIPSIS = re.compile(r"…|\.\.\.")
CHUNK_TIMEOUT = 60
INTERACTIVE_TIMEOUT = 15


def doc_files():
    """README.md and every Markdown file under docs/, repository-relative, sorted."""
    out = ["README.md"]
    for base, _, files in os.walk(os.path.join(ROOT, "docs")):
        out += [os.path.relpath(os.path.join(base, f), ROOT) for f in files if f.endswith(".md")]
    return sorted(out)


# --------------------------------------------------------------------------- extraction

class Block:
    def __init__(self, path, line, info, lines):
        self.path, self.line, self.info, self.lines = path, line, info, lines
        words = info.split()
        self.lang = words[0] if words else ""
        self.attrs = words[1:]

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)

    @property
    def is_shell(self):
        return self.lang.lower() in SHELL_LANGS

    @property
    def runnable(self):
        return self.lang == "sh" and not self.attrs

    def problems(self):
        """Why this fence is not one of the allowed forms (empty when it is)."""
        if not self.is_shell:
            return []
        if self.lang == "sh" and self.attrs in ([], ["norun"]):
            return []
        return ["%s: fence ```%s: shell examples are ```sh (run by tests/e2e/test_docs.py) "
                "or ```sh norun (only what cannot run in a test)" % (self.where, self.info)]


def extract_blocks(text, path="<doc>"):
    """Fenced code blocks of a Markdown text, in order. An unterminated fence raises."""
    blocks = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or (m.group(2)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        close = re.compile(r"^ *%s%s*\s*$" % (re.escape(fence), re.escape(fence[0])))
        body, j = [], i + 1
        while j < len(lines) and not close.match(lines[j]):
            s = lines[j]
            body.append(s[min(indent, len(s) - len(s.lstrip(" "))):])
            j += 1
        if j == len(lines):
            raise AssertionError("%s:%d: unterminated ``` fence" % (path, i + 1))
        blocks.append(Block(path, i + 1, info, body))
        i = j + 1
    return blocks


class Chunk:
    """Commands, the lines typed into them, and the output they must print."""

    def __init__(self, line):
        self.line = line  # line number in the document of the first command line
        self.commands, self.typed, self.expect = [], [], []

    @property
    def script(self):
        return "\n".join(self.commands)


def split_chunks(block):
    """A block's lines cut after each run of `# →` lines."""
    chunks = [Chunk(block.line + 1)]
    for n, line in enumerate(block.lines):
        e, t = EXPECT.match(line), TYPED.match(line)
        cur = chunks[-1]
        if e:
            cur.expect.append(e.group(1) or "")
        elif t:
            cur.typed.append(t.group(1))
        else:
            if cur.expect:
                cur = Chunk(block.line + 1 + n)
                chunks.append(cur)
            cur.commands.append(line)
    return [c for c in chunks if c.script.strip() or c.expect]


def lint_chunk(block, chunk):
    """Problems that would make an example pass without checking anything."""
    out = []
    where = "%s:%d" % (block.path, chunk.line)
    if chunk.expect and not chunk.script.strip():
        out.append("%s: `# →` lines with no command before them" % where)
    if chunk.typed and not chunk.expect:
        out.append("%s: `# >` input without any `# →` output to wait for" % where)
    for cmd in chunk.commands:
        if re.search(r"\S.*#\s*→", cmd):
            out.append("%s: `# →` must start its own line to be checked: %r" % (where, cmd))
    if not chunk.expect:
        joined = re.sub(r"\\\n", " ", chunk.script)
        for m in re.finditer(r"(?:^|[\s|;&(`$])curl\s([^|;&)\n]*)", joined):
            if not re.search(r"(?:^|\s)(?:-[a-zA-Z]*f[a-zA-Z]*|--fail\S*)(?:\s|$)", m.group(1)):
                out.append("%s: curl without -f/--fail and without a `# →` line: an error "
                           "status would pass unnoticed: %r" % (where, m.group(0).strip()))
    return out


# --------------------------------------------------------------------------- matching

def clean_output(text):
    lines = [ANSI.sub("", l).replace("\r", "").rstrip() for l in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def line_pattern(expected):
    return re.compile("[^\n]*?".join(re.escape(p) for p in ELLIPSIS.split(expected)))


def output_matches(expected, output):
    """All lines, exactly, `…` matching any text within a line."""
    got = clean_output(output)
    if len(got) != len(expected):
        return False
    return all(line_pattern(e).fullmatch(g) for e, g in zip(expected, got))


def strip_prompts(line):
    while line.startswith("> "):
        line = line[2:]
    return line


def find_in_order(expected, output):
    """How many of the expected lines appear, in order, among the output lines (an
    interactive program's prompts `> ` before a line are ignored)."""
    got = [strip_prompts(l) for l in clean_output(output)]
    k = 0
    for g in got:
        if k < len(expected) and line_pattern(expected[k]).fullmatch(g):
            k += 1
    return k


# --------------------------------------------------------------------------- running

class Session:
    """The reader's shell: a working directory, PATH with `herald`, the variables set so
    far, and the server's address for the rewrite."""

    def __init__(self, workdir, addr, env):
        self.workdir, self.addr = workdir, addr
        self.state = os.path.join(workdir, ".doc-env")
        bindir = os.path.join(workdir, ".doc-bin")
        os.makedirs(bindir, exist_ok=True)
        link = os.path.join(bindir, "herald")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(HERALD_BIN), link)
        self.env = dict(env)
        self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")
        self.env["TERM"] = "dumb"
        self.interactive_timeout = INTERACTIVE_TIMEOUT

    def rewrite(self, text):
        return DOC_ADDR.sub(self.addr, text)

    def run(self, block, chunk):
        """Runs one chunk; returns a failure description or None."""
        script = "set -a\n%s\nenv -0 > %s\n" % (self.rewrite(chunk.script),
                                                 _sh_quote(self.state))
        path = os.path.join(self.workdir, ".doc-chunk.sh")
        with open(path, "w") as f:
            f.write(script)
        expect = [self.rewrite(e) for e in chunk.expect]
        if os.path.exists(self.state):
            os.unlink(self.state)
        argv = ["bash", "-euo", "pipefail", path]
        if chunk.typed:
            rc, out, err, missing = self._interactive(argv, chunk.typed, expect)
        else:
            try:
                p = subprocess.run(argv, env=self.env, cwd=self.workdir, capture_output=True,
                                   stdin=subprocess.DEVNULL, timeout=CHUNK_TIMEOUT)
            except subprocess.TimeoutExpired as e:
                return "timed out after %ss\nstdout:\n%s\nstderr:\n%s" % (
                    CHUNK_TIMEOUT, _text(e.stdout), _text(e.stderr))
            rc, out, err = p.returncode, _text(p.stdout), _text(p.stderr)
            missing = None if not expect or output_matches(expect, out) else expect
        report = "commands:\n%s\nexit status %s\nstdout:\n%s\nstderr:\n%s" % (
            self.rewrite(chunk.script), rc, out, err)
        if sanitizer_problems(err):
            return "sanitizer report\n" + report
        if rc != 0:
            return "failed\n" + report
        if missing:
            return "output differs; expected:\n%s\n%s" % ("\n".join(missing), report)
        if os.path.exists(self.state):  # not when the example ends with `exit`
            self.env = _read_env(self.state)
        return None

    def _interactive(self, argv, typed, expect):
        p = subprocess.Popen(argv, env=self.env, cwd=self.workdir, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdin.write(("\n".join(typed) + "\n").encode())
        p.stdin.flush()
        out, err = b"", b""
        deadline = time.monotonic() + self.interactive_timeout
        streams = [p.stdout, p.stderr]
        while streams and time.monotonic() < deadline:
            if find_in_order(expect, _text(out)) == len(expect) and not p.stdin.closed:
                p.stdin.close()  # Ctrl-D: the program ends
                deadline = min(deadline, time.monotonic() + 10)
            ready, _, _ = select.select(streams, [], [], 0.1)
            for s in ready:
                data = os.read(s.fileno(), 65536)
                if not data:
                    streams.remove(s)
                elif s is p.stdout:
                    out += data
                else:
                    err += data
        if not p.stdin.closed:
            p.stdin.close()
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = "killed (still running %ss after its input ended)" % 10
        found = find_in_order(expect, _text(out))
        missing = expect[found:] if found < len(expect) else None
        return rc, _text(out), _text(err), missing


def _sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def _text(b):
    if isinstance(b, str):
        return b
    return (b or b"").decode("utf-8", "replace")


def _read_env(path):
    with open(path, "rb") as f:
        items = f.read().decode("utf-8", "replace").split("\0")
    env = {}
    for item in items:
        k, sep, v = item.partition("=")
        if sep and k not in ("_", "SHLVL", "PWD", "OLDPWD"):
            env[k] = v
    return env


# --------------------------------------------------------------------------- the tests

def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _runnable_docs():
    return [p for p in doc_files()
            if any(b.runnable for b in extract_blocks(_read(p), p))]


@pytest.mark.store_independent
def test_every_shell_fence_is_run_or_marked():
    problems = []
    for path in doc_files():
        for b in extract_blocks(_read(path), path):
            problems += b.problems()
            if b.runnable:
                for c in split_chunks(b):
                    problems += lint_chunk(b, c)
    assert not problems, "\n".join(problems)
    assert "README.md" in _runnable_docs(), "no runnable example found in README.md"


@pytest.mark.parametrize("path", _runnable_docs())
def test_doc_examples_run(path, tmp_path):
    blocks = [b for b in extract_blocks(_read(path), path) if b.runnable]
    srv = Server(workdir=tmp_path / "srv")
    srv.start()
    try:
        # The blocks run where the server runs, so `herald` finds its data as ./data.
        session = Session(srv.workdir, srv.host, clean_env(srv.cli_env()))
        for b in blocks:
            for c in split_chunks(b):
                failure = session.run(b, c)
                if failure:
                    pytest.fail("%s:%d: example %s" % (path, c.line, failure), pytrace=False)
    finally:
        srv.stop()


# ---- the harness itself: a wrong example must fail

def _selftest_session(tmp_path):
    s = Session(str(tmp_path), "127.0.0.1:1", clean_env())
    s.interactive_timeout = 2
    return s


def _chunks(text):
    return [(b, c) for b in extract_blocks(text) for c in split_chunks(b)]


@pytest.mark.store_independent
def test_harness_checks_status_output_and_carries_variables(tmp_path):
    s = _selftest_session(tmp_path)
    doc = ("```sh\nX=$(echo hi)\n```\n\n```sh\necho \"$X localhost:8080\"\n"
           "# → hi 127.0.0.1:1\necho '{\"a\":1,\"b\":2}'\n# → {\"a\":…}\n```\n")
    assert [s.run(b, c) for b, c in _chunks(doc)] == [None, None, None]
    for bad in ("```sh\necho hello\n# → bye\n```\n",          # output differs
                "```sh\nfalse\necho ok\n```\n",                   # a command fails
                "```sh\nfalse | cat\n```\n",                      # inside a pipeline
                "```sh\necho $UNSET_VARIABLE\n```\n",             # unset variable
                "```sh\necho a; echo b\n# → a\n```\n"):           # extra output line
        (b, c), = _chunks(bad)
        assert s.run(b, c) is not None, bad


@pytest.mark.store_independent
def test_harness_lints_fences_and_unchecked_curl():
    assert _chunks("```bash\necho\n```\n")[0][0].problems()
    assert _chunks("```sh run\necho\n```\n")[0][0].problems()
    assert not _chunks("```sh norun\nmake run\n```\n")[0][0].problems()
    assert not _chunks("```text\nanything\n```\n")[0][0].problems()
    lint = lambda text: [p for b, c in _chunks(text) for p in lint_chunk(b, c)]
    assert lint("```sh\ncurl localhost:8080/health\n```\n")
    assert lint("```sh\nT=$(curl -s localhost:8080/x | jq .a)\n```\n")
    assert not lint("```sh\ncurl -fsS localhost:8080/health\n```\n")
    assert not lint("```sh\ncurl -H 'X: y' \\\n  --fail localhost:8080/health\n```\n")
    assert not lint("```sh\ncurl localhost:8080/health\n# → {\"status\":\"ok\"}\n```\n")
    assert lint("```sh\necho hi  # → hi\n```\n")
    with pytest.raises(AssertionError):
        extract_blocks("```sh\necho never closed\n")
    (b, c), = _chunks("* a step:\n\n    ```sh\n    echo hi\n    # → hi\n    ```\n")
    assert b.runnable and c.script == "echo hi" and c.expect == ["hi"]


@pytest.mark.store_independent
def test_harness_interactive_input_and_output(tmp_path):
    s = _selftest_session(tmp_path)
    doc = ("```sh\nwhile read -r l; do echo \"< $l\"; done\necho done\n"
           "# > one\n# → < one\n```\n")
    (b, c), = _chunks(doc)
    assert c.typed == ["one"] and c.expect == ["< one"]
    assert s.run(b, c) is None
    (b, c), = _chunks("```sh\ncat\n# > one\n# → two\n```\n")
    assert s.run(b, c) is not None
