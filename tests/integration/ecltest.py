"""Shared helpers for the integration tests (Python standard library only)."""
import os
import shutil
import subprocess
import tempfile
import unittest

ECLUSE = os.environ.get("ECLUSE_BIN", os.path.join(os.getcwd(), "ecluse"))
SOURCE_DIR = os.environ.get("ECL_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))


def run(*args, data=None, input=None, env=None, pass_fds=(), timeout=120):
    """Runs `ecluse [--data DATA] ARGS...`; returns the CompletedProcess (text mode)."""
    cmd = [ECLUSE]
    if data is not None:
        cmd += ["--data", data]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.pop("ECLUSE_DATA", None)
    if env:
        full_env.update(env)
    return subprocess.run(cmd, input=input, capture_output=True, text=True, env=full_env,
                          pass_fds=pass_fds, timeout=timeout)


class TempDirTest(unittest.TestCase):
    """Gives each test a fresh temporary directory, self.tmp, removed afterwards."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ecl-it-")
        self.data = os.path.join(self.tmp, "data")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def init(self, *extra):
        r = run("init", *extra, data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r


def tree_snapshot(root):
    """(relative path, mode, size, content) for every file below root."""
    out = []
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            with open(p, "rb") as f:
                out.append((os.path.relpath(p, root), st.st_mode, st.st_size, f.read()))
    return sorted(out)


# ---- a running gateway on demo data (the agent API, MCP and benchmark tests share it) -------

DEMO_AGENTS = ("service-desk-assistant", "eligibility-assistant", "statistics-bot",
               "fraud-detector", "winter-outreach-bot")


class DemoServer:
    """`ecluse serve` on 127.0.0.1 (ephemeral port) over a temporary data directory prepared
    like `ecluse demo`: init, the demo datasets, `demo-data --size SIZE` imported, the policy
    (demo/policy.json, or the document `policy` given as a dict) set, and one agent principal
    per policy agent (keys in self.keys) plus `extra_principals` {name: role}.  self.raw holds
    the imported records: {dataset: {nir: record}}.  Call stop() (or use it as a context
    manager) to end the server and remove the directory."""

    def __init__(self, size=60, seed=1, policy=None, extra_principals=None, serve_args=()):
        import json
        import signal  # noqa: F401
        import time
        self.tmp = tempfile.mkdtemp(prefix="ecl-demo-")
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.log = None
        try:
            self._check(run("init", data=self.data))
            for ds in ("citizens", "benefits"):
                self._check(run("dataset", "create",
                                os.path.join(SOURCE_DIR, "demo", ds + ".schema.json"),
                                data=self.data))
            gen = os.path.join(self.tmp, "gen")
            self._check(run("demo-data", "--size", str(size), "--seed", str(seed), "--out", gen))
            self.raw = {}
            for ds in ("citizens", "benefits"):
                path = os.path.join(gen, ds + ".jsonl")
                self._check(run("import", "--dataset", ds, path, data=self.data))
                with open(path, encoding="utf-8") as f:
                    self.raw[ds] = {r["nir"]: r for r in map(json.loads, f) if r}
            shutil.rmtree(gen)
            if policy is None:
                with open(os.path.join(SOURCE_DIR, "demo", "policy.json"), encoding="utf-8") as f:
                    policy = json.load(f)
            self.policy = policy
            ppath = os.path.join(self.tmp, "policy.json")
            with open(ppath, "w", encoding="utf-8") as f:
                json.dump(policy, f)
            self._check(run("policy", "set", ppath, data=self.data))
            self.keys = {}
            self.ids = {}
            names = {a["id"]: "agent" for a in policy.get("agents", [])}
            names.update(extra_principals or {})
            for name, role in names.items():
                r = self._check(run("principal", "add", name, "--role", role, data=self.data))
                fields = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
                self.keys[name] = fields["key"]
                self.ids[name] = fields["id"]
            self.log_path = os.path.join(self.tmp, "serve.log")
            self.serve_args = serve_args
            self._launch()
        except BaseException:
            self.stop()
            raise

    def _launch(self):
        """Starts `ecluse serve` over self.data and waits for the port it announces in the log
        (appended to: only lines after this start are read)."""
        import json
        import time
        start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.pop("ECLUSE_DATA", None)
        self.proc = subprocess.Popen([ECLUSE, "--data", self.data, "serve", "--listen",
                                      "127.0.0.1:0", "--threads", "2", *self.serve_args],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.port = None
        deadline = time.time() + 20
        while self.port is None and time.time() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                for line in f.read().decode().splitlines():
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("event") == "listening":
                        self.port = ev["port"]
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited")
            time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("serve did not start")

    def halt(self, sig):
        """Stops the server with signal sig (SIGTERM, SIGKILL) and keeps the data directory;
        returns its exit status."""
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        self.log = None
        return rc

    def restart(self):
        """Starts the server again over the same data directory (after halt)."""
        self._launch()

    @staticmethod
    def _check(r):
        if r.returncode != 0:
            raise RuntimeError("ecluse failed: " + r.stderr)
        return r

    def request(self, method, path, body=None, agent=None, headers=None, key=None):
        """(status, headers with lower-case names, body bytes).  body may be a dict (sent as
        JSON); agent names a principal of self.keys (or key gives an API key)."""
        import http.client
        import json
        h = dict(headers or {})
        if agent is not None:
            key = self.keys[agent]
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def audit_entry(self, seq):
        """The decrypted audit entry seq (`ecluse audit show SEQ`), as a dict."""
        import json
        r = self._check(run("audit", "show", str(seq), data=self.data))
        return json.loads(r.stdout)

    def stop(self):
        import signal
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            rc = self.proc.returncode
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def demo_server(**kw):
    """A DemoServer (see there): the fixture of the agent API, MCP and benchmark tests."""
    return DemoServer(**kw)


def response_digest(body):
    """BLAKE2b-256 hex of an answer {"data", "meta"} with meta.audit_seq removed, serialised as
    compact JSON with sorted keys: the response_digest of its audit entry."""
    import hashlib
    import json
    doc = json.loads(body) if isinstance(body, (bytes, str)) else dict(body)
    meta = dict(doc["meta"])
    meta.pop("audit_seq", None)
    canon = json.dumps({"data": doc["data"], "meta": meta}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canon.encode(), digest_size=32).hexdigest()


def principal_add(data, name, role):
    """`ecluse principal add NAME --role ROLE` in data: returns (id, key)."""
    r = run("principal", "add", name, "--role", role, data=data)
    assert r.returncode == 0, r.stderr
    fields = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    return fields["id"], fields["key"]
