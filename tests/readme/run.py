#!/usr/bin/env python3
"""Runs the code blocks of the READMEs as a user would paste them.

Every fenced block in a language a user runs (sh, c, cpp, python, js) must
have a marker on the line just before its opening fence:

    <!-- test: run -->                  run the block as written
    <!-- test: run expect="hello" -->   ... and its output must contain "hello"
                                        (\" for a quote; expect= may repeat)
    <!-- test: skip REASON -->          not run, and the reason says why

A block without a marker fails the run, so a new example is tested or
explicitly excused. Each block gets a fresh kmq-broker with its default
settings (push retry after 300 s, as a KapokMQ node), and the one
substitution made is the port: every "8011" in the block becomes that
broker's port (shell blocks also get KAPOKMQ_PORT). How each language runs:

    sh      bash -e -o pipefail, from the repository root, target/release on PATH
    c       cc -std=c11 -Wall -Werror -Iinclude, linked with target/release/libkapokmq.so
    cpp     c++ -std=c++17 -Wall -Werror -Iinclude -Ibindings/c, same library
    python  python3 with PYTHONPATH=bindings/python/src
    js      node, with require('kapokmq') resolving to bindings/node

Usage: run.py [--expect-failure] FILE.md...
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# cargo's release build (CARGO_TARGET_DIR honoured, as cargo does: relative
# to where cargo ran, taken here as the repository root).
RELEASE = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target", "release")
BROKER = os.environ.get("KMQ_BROKER") or os.path.join(RELEASE, "kmq-broker")
LIB = os.environ.get("KAPOKMQ_LIB") or os.path.join(RELEASE, "libkapokmq.so")
LANGS = {"sh": "sh", "bash": "sh", "shell": "sh", "c": "c", "cpp": "cpp", "c++": "cpp",
         "python": "python", "py": "python", "js": "js", "javascript": "js"}
PORT_IN_EXAMPLES = "8011"
BLOCK_TIMEOUT = 90  # seconds; a block that waits forever fails instead of hanging CI
MARKER = re.compile(r"^\s*<!--\s*test:\s*(run|skip)\b(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")


class Block:
    def __init__(self, path, line, lang, code, marker):
        self.path, self.line, self.lang, self.code, self.marker = path, line, lang, code, marker

    @property
    def where(self):
        return f"{os.path.relpath(self.path, ROOT)}:{self.line}"


def blocks(path):
    """The fenced blocks of one Markdown file, with the marker before each."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group(1), m.group(2).lower(), i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if lang in LANGS:
            marker = MARKER.match(lines[start - 1]) if start > 0 else None
            yield Block(path, start + 1, LANGS[lang], "\n".join(body) + "\n", marker)


class Broker:
    """A kmq-broker on a free port, default settings."""

    def __enter__(self):
        self.proc = subprocess.Popen([BROKER, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on .*:(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            raise RuntimeError(f"kmq-broker said {line!r}")
        self.port = m.group(1)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def node_modules(work):
    """A node_modules folder in which require('kapokmq') is bindings/node."""
    mods = os.path.join(work, "node_modules")
    os.makedirs(mods, exist_ok=True)
    os.symlink(os.path.join(ROOT, "bindings", "node"), os.path.join(mods, "kapokmq"))
    return mods


def command(block, code, work, env):
    """Writes the block into `work` and returns the command that runs it."""
    compilers = {
        "c": ["cc", "-std=c11", "-x", "c"],
        "cpp": ["c++", "-std=c++17", "-x", "c++", "-I" + os.path.join(ROOT, "bindings", "c")],
    }
    if block.lang == "sh":
        return ["bash", "-e", "-o", "pipefail", "-c", code], ROOT
    if block.lang == "python":
        src = os.path.join(work, "example.py")
        open(src, "w").write(code)
        env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python", "src")
        return [sys.executable, src], work
    if block.lang == "js":
        src = os.path.join(work, "example.js")
        open(src, "w").write(code)
        env["NODE_PATH"] = node_modules(work)
        return ["node", src], work
    src = os.path.join(work, "example")
    open(src, "w").write(code)
    exe = os.path.join(work, "example.bin")
    build = compilers[block.lang] + ["-Wall", "-Werror", "-I" + os.path.join(ROOT, "include"), src, "-x", "none",
                                     "-L" + RELEASE, "-lkapokmq", "-Wl,-rpath," + RELEASE, "-o", exe]
    out = subprocess.run(build, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("does not compile:\n" + out.stderr)
    return [exe], work


def run_block(block):
    """Runs one block; returns None when it passed, else what went wrong."""
    expects = [re.sub(r'\\(.)', r'\1', m.group(1))
               for m in re.finditer(r'expect="((?:[^"\\]|\\.)*)"', block.marker.group(2))]
    with Broker() as broker, tempfile.TemporaryDirectory(prefix="kmq-readme-") as work:
        code = block.code.replace(PORT_IN_EXAMPLES, broker.port)
        env = dict(os.environ, KAPOKMQ_ADDR="127.0.0.1", KAPOKMQ_PORT=broker.port,
                   KAPOKMQ_LIB=LIB, PATH=RELEASE + os.pathsep + os.environ.get("PATH", ""))
        try:
            argv, cwd = command(block, code, work, env)
        except RuntimeError as e:
            return str(e)
        started = time.monotonic()
        try:
            out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            return f"still running after {BLOCK_TIMEOUT} s\n--- stdout\n{e.stdout or ''}\n--- stderr\n{e.stderr or ''}"
        took = time.monotonic() - started
        shown = f"--- stdout\n{out.stdout}--- stderr\n{out.stderr}"
        if out.returncode != 0:
            return f"exit code {out.returncode} after {took:.1f} s\n{shown}"
        missing = [e for e in expects if e not in out.stdout]
        if missing:
            return f"output lacks {', '.join(map(repr, missing))}\n{shown}"
        return None


def main(argv):
    expect_failure = "--expect-failure" in argv
    files = [a for a in argv if a != "--expect-failure"]
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    failures, ran, skipped = [], 0, 0
    for path in files:
        for b in blocks(path):
            if b.marker is None:
                failures.append((b, f"a {b.lang} block without a marker: put <!-- test: run --> or "
                                    "<!-- test: skip REASON --> on the line before its fence"))
                continue
            if b.marker.group(1) == "skip":
                if not b.marker.group(2).strip():
                    failures.append((b, "<!-- test: skip --> needs a reason"))
                skipped += 1
                continue
            ran += 1
            problem = run_block(b)
            verdict = ("passed" if problem is None else "failed") if expect_failure else ("ok" if problem is None else "FAILED")
            print(f"readme: {b.where} ({b.lang}) {verdict}", flush=True)
            if problem is not None:
                failures.append((b, problem))
    print(f"readme: {ran} blocks run, {skipped} skipped, {len(failures)} failed")
    if expect_failure:
        # Wrong on purpose: each must fail, and only by running.
        failed_by_running = sum(1 for b, _ in failures if b.marker is not None)
        if failed_by_running != ran or len(failures) != ran:
            print(f"readme: {ran - failed_by_running} of these wrong examples passed", file=sys.stderr)
            return 1
        print("readme: every wrong example failed, as it must")
        return 0
    for b, problem in failures:
        print(f"\n{b.where}: {problem}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
