#!/usr/bin/env python3
"""Écluse's mechanical rules, checked on a source tree.

usage: lint.py ROOT [CHECK...]   CHECK in: boundaries purity banned format (default: all)

boundaries  <sodium.h> only in crypto/, <lmdb.h> only in gateway/store/, <microhttpd.h> only
            in gateway/http/ (tests/ and bench/ are exempt: they measure and probe).
purity      policy/ references no I/O, clock, environment or randomness symbol or header.
banned      no strcpy, strcat, sprintf, vsprintf, gets anywhere; no memcmp in crypto/ or in
            the authentication code (secrets are compared with ecl_crypto_equal).
format      clang-format --dry-run --Werror on every C file.
Exit 0 when clean, 1 with one line per finding."""
import os
import re
import shutil
import subprocess
import sys

SKIP_DIRS = {".git", "build", "node_modules", "third_party", "corpus"}
SKIP_PREFIX = ("build",)

BOUNDARIES = {"sodium.h": "crypto/", "lmdb.h": "gateway/store/", "microhttpd.h": "gateway/http/"}
EXEMPT = ("tests/", "bench/")

IMPURE_CALLS = ["time", "clock", "clock_gettime", "gettimeofday", "localtime", "gmtime",
                "localtime_r", "gmtime_r", "mktime", "fopen", "fdopen", "open", "openat",
                "read", "write", "fread", "fwrite", "close", "fclose", "printf", "fprintf",
                "vfprintf", "puts", "fputs", "perror", "getenv", "secure_getenv", "rand",
                "rand_r", "random", "srand", "srandom", "drand48", "arc4random", "getrandom",
                "randombytes_buf", "socket", "connect", "send", "recv", "system", "popen",
                "json_load_file", "json_loadf", "json_loadfd", "json_dump_file", "json_dumpf",
                "json_dumpfd", "syslog", "sleep", "usleep", "nanosleep", "pthread_create"]
IMPURE_HEADERS = ["stdio.h", "time.h", "unistd.h", "fcntl.h", "sys/", "sodium.h", "lmdb.h",
                  "microhttpd.h", "pthread.h", "syslog.h", "dirent.h"]
BANNED = ["strcpy", "strcat", "sprintf", "vsprintf", "gets"]
MEMCMP_FORBIDDEN = ("crypto/", "gateway/http/auth", "gateway/handlers/auth")


def c_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(SKIP_PREFIX)]
        for name in filenames:
            if name.endswith((".c", ".h")):
                path = os.path.join(dirpath, name)
                yield os.path.normpath(os.path.relpath(path, root)).replace(os.sep, "/")


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"'(\\.|[^'\\\n])*'", "''", text)
    return text


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        return f.read()


def check_boundaries(root):
    out = []
    for rel in c_files(root):
        if rel.startswith(EXEMPT):
            continue
        for lineno, line in enumerate(read(root, rel).splitlines(), 1):
            m = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
            if m and m.group(1) in BOUNDARIES and not rel.startswith(BOUNDARIES[m.group(1)]):
                out.append(f"{rel}:{lineno}: <{m.group(1)}> may only be included under "
                           f"{BOUNDARIES[m.group(1)]}")
    return out


def check_purity(root):
    out = []
    calls = re.compile(r"\b(" + "|".join(IMPURE_CALLS) + r")\s*\(")
    for rel in c_files(root):
        if not rel.startswith("policy/"):
            continue
        text = read(root, rel)
        for lineno, line in enumerate(text.splitlines(), 1):
            m = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
            if m and any(m.group(1).startswith(h) for h in IMPURE_HEADERS):
                out.append(f"{rel}:{lineno}: policy/ must be pure: no #include <{m.group(1)}>")
        for lineno, line in enumerate(strip_comments_and_strings(text).splitlines(), 1):
            for m in calls.finditer(line):
                before = line[:m.start()]
                if re.search(r"(\.|->)\s*$", before):
                    continue  # a struct member named like a libc function
                out.append(f"{rel}:{lineno}: policy/ must be pure: calls {m.group(1)}()")
    return out


def check_banned(root):
    out = []
    banned = re.compile(r"\b(" + "|".join(BANNED) + r")\s*\(")
    memcmp = re.compile(r"\bmemcmp\s*\(")
    for rel in c_files(root):
        text = strip_comments_and_strings(read(root, rel))
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in banned.finditer(line):
                out.append(f"{rel}:{lineno}: banned function {m.group(1)}()")
            if rel.startswith(MEMCMP_FORBIDDEN) and memcmp.search(line):
                out.append(f"{rel}:{lineno}: memcmp() where secrets are compared; use "
                           f"ecl_crypto_equal()")
    return out


def check_format(root):
    exe = shutil.which("clang-format") or shutil.which("clang-format-14")
    if exe is None:
        return ["clang-format is not installed (scripts/bootstrap installs it)"]
    files = [f for f in c_files(root) if not f.startswith("tests/fuzz/corpus")]
    out = []
    for i in range(0, len(files), 50):
        chunk = files[i:i + 50]
        r = subprocess.run([exe, "--dry-run", "--Werror", "--style=file"] + chunk, cwd=root,
                           capture_output=True, text=True)
        if r.returncode != 0:
            bad = sorted(set(re.findall(r"^([^\s:]+\.[ch]):\d+:\d+: error", r.stderr, re.M)))
            out.extend(f"{b}: not clang-formatted (run scripts/format)" for b in bad)
            if not bad:
                out.append("clang-format failed: " + r.stderr.strip()[:200])
    return out


CHECKS = {"boundaries": check_boundaries, "purity": check_purity, "banned": check_banned,
          "format": check_format}


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    root = argv[1]
    names = argv[2:] or list(CHECKS)
    findings = []
    for name in names:
        if name not in CHECKS:
            print(f"lint: unknown check {name}", file=sys.stderr)
            return 64
        findings += CHECKS[name](root)
    for f in findings:
        print(f)
    print(f"lint: {len(findings)} finding(s) in {', '.join(names)}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
