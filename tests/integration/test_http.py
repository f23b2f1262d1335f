#!/usr/bin/env python3
"""`ecluse serve`: authentication, principals over HTTP and the CLI, hostile requests, metrics,
logs and TLS.  Starts the real server on 127.0.0.1 (ephemeral port) with a temporary data
directory."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import ECLUSE, principal_add, run  # noqa: E402

JSON_CAP = 64 * 1024  # ECL_HTTP_JSON_MAX_BYTES
PROBLEM_BASE = "https://ecluse.example/problems/"


class Server:
    """One `ecluse serve` process; stderr goes to a file (JSON lines)."""

    def __init__(self, data, *extra):
        self.log_path = os.path.join(os.path.dirname(data), "serve-%d.log" % time.time_ns())
        self.log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("ECLUSE_DATA", None)
        self.proc = subprocess.Popen([ECLUSE, "--data", data, "serve", "--listen", "127.0.0.1:0",
                                      "--threads", "2", "--connection-timeout", "2", *extra],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.port = None
        deadline = time.time() + 20
        while time.time() < deadline and self.port is None:
            for line in self.lines():
                if line.get("event") == "listening":
                    self.port = line["port"]
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited: " + open(self.log_path).read())
            time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("serve did not start")

    def lines(self):
        with open(self.log_path, "rb") as f:
            text = f.read().decode()
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    def raw_log(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def request(port, method, path, body=None, headers=None, ctx=None):
    if ctx is not None:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
    finally:
        c.close()


def raw(port, data, timeout=5.0, pause=None, rest=b""):
    """Sends data on a new connection (then rest after pause seconds), returns everything read
    until the server closes or the timeout expires."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        if pause is not None:
            time.sleep(pause)
            try:
                s.sendall(rest)
            except OSError:
                pass
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    finally:
        s.close()
    return out


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    return int(m.group(1)) if m else None


def parse_prometheus(text):
    """A tiny parser of the text exposition format: {(name, labels-tuple): value}; raises on any
    malformed line."""
    samples = {}
    types = {}
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            if typ not in ("counter", "gauge", "histogram", "summary", "untyped"):
                raise ValueError("bad type " + line)
            types[name] = typ
            continue
        if line.startswith("#"):
            raise ValueError("bad comment " + line)
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m:
            raise ValueError("bad sample " + line)
        labels = ()
        if m.group(3):
            pos = 0
            items = []
            body = m.group(3)
            while pos < len(body):
                lm = label_re.match(body, pos)
                if not lm:
                    raise ValueError("bad labels " + line)
                items.append((lm.group(1), lm.group(2)))
                pos = lm.end()
                if pos < len(body):
                    if body[pos] != ",":
                        raise ValueError("bad label separator " + line)
                    pos += 1
            labels = tuple(items)
        value = float(m.group(4))
        base = re.sub(r"_(bucket|sum|count|total)$", "", m.group(1))
        if m.group(1) not in types and base not in types and m.group(1) + "" not in types:
            raise ValueError("sample without TYPE " + line)
        samples[(m.group(1), labels)] = value
    return types, samples


class HttpBase(unittest.TestCase):
    extra = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ecl-http-")
        cls.data = os.path.join(cls.tmp, "data")
        r = run("init", data=cls.data)
        assert r.returncode == 0, r.stderr
        cls.admin_id, cls.admin_key = cls.add("root", "admin")
        cls.agent_id, cls.agent_key = cls.add("bot", "agent")
        cls.srv = Server(cls.data, *cls.extra)
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, rc

    @classmethod
    def add(cls, name, role):
        return principal_add(cls.data, name, role)

    def get(self, path, key=None, **kw):
        h = {"Authorization": "Bearer " + key} if key else {}
        h.update(kw.pop("headers", {}))
        return request(self.port, "GET", path, headers=h, **kw)

    def assert_alive(self):
        st, _, body = request(self.port, "GET", "/livez")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"status": "alive"})

    def assert_problem(self, st, headers, body, status, slug):
        self.assertEqual(st, status, body)
        self.assertEqual(headers.get("content-type"), "application/problem+json")
        p = json.loads(body)
        self.assertEqual(p["type"], PROBLEM_BASE + slug)
        self.assertEqual(p["status"], status)
        self.assertEqual(p["instance"], headers["x-request-id"])
        return p


class AuthTest(HttpBase):
    def test_livez_readyz(self):
        self.assert_alive()
        st, h, body = self.get("/readyz")
        self.assertEqual((st, json.loads(body)), (200, {"status": "ready"}))

    def test_authentication_matrix_identical_401(self):
        victim_id, victim_key = self.add("victim", "admin")
        self.assertEqual(self.get("/v1/principals", victim_key)[0], 200)
        self.assertEqual(run("principal", "revoke", victim_id, data=self.data).returncode, 0)
        kid, secret = self.admin_key[3:].split(".")
        flipped = secret[:-2] + ("A" if secret[-2] != "A" else "B") + secret[-1]
        cases = {
            "no header": None,
            "empty bearer": "Bearer ",
            "basic scheme": "Basic cm9vdDpyb290",
            "malformed": "Bearer ek_zz",
            "no prefix": "Bearer " + self.admin_key[3:],
            "uppercase hex": "Bearer ek_" + kid.upper() + "." + secret,
            "unknown id": "Bearer ek_0123456789abcdef." + secret,
            "wrong secret": "Bearer ek_" + kid + "." + flipped,
            "truncated secret": "Bearer ek_" + kid + "." + secret[:-1],
            "revoked": "Bearer " + victim_key,
            "trailing space": "Bearer " + self.admin_key + " ",
        }
        bodies = set()
        for name, authz in cases.items():
            h = {"X-Request-Id": "same-id-for-all"}
            if authz is not None:
                h["Authorization"] = authz
            for method, path, body in (("GET", "/v1/principals", None),
                                       ("DELETE", "/v1/principals/" + self.agent_id, None)):
                st, hd, b = request(self.port, method, path, body=body, headers=h)
                self.assertEqual(st, 401, name)
                self.assertEqual(hd.get("www-authenticate"), "Bearer", name)
                bodies.add(b)
        self.assertEqual(len(bodies), 1, bodies)
        p = json.loads(bodies.pop())
        self.assertEqual(p["type"], PROBLEM_BASE + "unauthenticated")
        self.assertEqual(p["instance"], "same-id-for-all")
        # the agent key was not revoked by the DELETEs above
        self.assertEqual(self.get("/v1/principals", self.admin_key)[0], 200)
        st, h, body = self.get("/metrics")
        self.assertNotIn(self.admin_key.encode(), body)
        # every refusal is audited (the refusal hook submits an access.refused entry)
        refusals = [x for x in self.refusals() if x.get("request_id") == "same-id-for-all"]
        self.assertEqual(len(refusals), 2 * len(cases))

    def refusals(self):
        """The access.refused audit entries, decrypted by `ecluse audit list` (entries are
        committed asynchronously: wait until the count is stable)."""
        last = None
        for _ in range(50):
            r = run("audit", "list", "--kind", "access.refused", "--limit", "1000", data=self.data)
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
            if last is not None and len(rows) == len(last):
                return rows
            last = rows
            time.sleep(0.1)
        return last

    def test_wrong_role_403(self):
        for method, path, body in (("GET", "/v1/principals", None),
                                   ("POST", "/v1/principals", b'{"name":"x","role":"agent"}'),
                                   ("DELETE", "/v1/principals/" + self.admin_id, None)):
            h = {"Authorization": "Bearer " + self.agent_key,
                 "Content-Type": "application/json"}
            st, hd, b = request(self.port, method, path, body=body, headers=h)
            p = self.assert_problem(st, hd, b, 403, "forbidden")
            self.assertNotIn("www-authenticate", hd)
            self.assertNotIn(self.agent_id, json.dumps(p))
        refusals = [x for x in self.refusals() if "HTTP 403" in x.get("detail", "")]
        self.assertGreaterEqual(len(refusals), 3)
        self.assertTrue(all(x.get("principal") == self.agent_id for x in refusals))
        # the admin key still works after the refusals
        self.assertEqual(self.get("/v1/principals", self.admin_key)[0], 200)

    def test_request_id(self):
        st, h, _ = self.get("/livez", headers={"X-Request-Id": "abc-DEF_1.2"})
        self.assertEqual(h["x-request-id"], "abc-DEF_1.2")
        for bad in ("a" * 65, "has space", "semi;colon", "é"):
            try:
                st, h, _ = self.get("/livez", headers={"X-Request-Id": bad})
            except (UnicodeEncodeError, ValueError):
                continue
            self.assertRegex(h["x-request-id"], r"^[0-9a-f]{24}$")
        st, h, _ = self.get("/livez")
        self.assertRegex(h["x-request-id"], r"^[0-9a-f]{24}$")


class PrincipalTest(HttpBase):
    def test_cli_list_has_no_secret(self):
        r = run("principal", "list", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.admin_id, r.stdout)
        self.assertIn("admin", r.stdout)
        self.assertNotIn(self.admin_key.split(".")[1], r.stdout)
        self.assertNotIn("ek_", r.stdout)

    def test_cli_errors(self):
        self.assertEqual(run("principal", "add", "x", data=self.data).returncode, 64)
        self.assertEqual(run("principal", "add", "x", "--role", "king",
                             data=self.data).returncode, 64)
        self.assertEqual(run("principal", "add", "bad name", "--role", "agent",
                             data=self.data).returncode, 65)
        self.assertEqual(run("principal", "add", "root", "--role", "agent",
                             data=self.data).returncode, 73)
        self.assertEqual(run("principal", "revoke", "nobody", data=self.data).returncode, 66)
        self.assertEqual(run("principal", "frobnicate", data=self.data).returncode, 64)
        r = run("principal", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage:", r.stdout)

    def test_http_add_list_revoke(self):
        h = {"Authorization": "Bearer " + self.admin_key, "Content-Type": "application/json"}
        st, hd, b = request(self.port, "POST", "/v1/principals",
                            body=b'{"name":"auditor-1","role":"auditor"}', headers=h)
        self.assertEqual(st, 201, b)
        created = json.loads(b)
        self.assertEqual((created["name"], created["role"], created["revoked"]),
                         ("auditor-1", "auditor", None))
        key = created["key"]
        self.assertRegex(key, r"^ek_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$")
        self.assertEqual(key[3:19], created["id"])
        # the auditor is authenticated (403 on an admin route, not 401)
        self.assertEqual(self.get("/v1/principals", key)[0], 403)
        # duplicate name
        st, hd, b = request(self.port, "POST", "/v1/principals",
                            body=b'{"name":"auditor-1","role":"agent"}', headers=h)
        self.assert_problem(st, hd, b, 409, "conflict")
        # bad documents
        for body in (b'{"name":"a","role":"king"}', b'{"name":"a b","role":"agent"}',
                     b'{"name":"a","role":"agent","extra":1}', b'{"name":"a"}', b'[]',
                     b'not json', b''):
            st, hd, b = request(self.port, "POST", "/v1/principals", body=body, headers=h)
            self.assert_problem(st, hd, b, 400, "invalid-json")
        st, hd, b = request(self.port, "POST", "/v1/principals", body=b'{}',
                            headers={"Authorization": h["Authorization"],
                                     "Content-Type": "text/plain"})
        self.assert_problem(st, hd, b, 415, "unsupported-media-type")
        # list: no key, no hash
        st, hd, b = self.get("/v1/principals", self.admin_key)
        listed = json.loads(b)["principals"]
        self.assertIn(created["id"], [p["id"] for p in listed])
        self.assertNotIn(key.split(".")[1], b.decode())
        self.assertEqual(set(listed[0]), {"id", "name", "role", "created", "revoked"})
        # revoke over HTTP: the key stops working at once
        st, hd, b = request(self.port, "DELETE", "/v1/principals/" + created["id"], headers=h)
        self.assertEqual(st, 200, b)
        self.assertIsInstance(json.loads(b)["revoked"], int)
        self.assertEqual(self.get("/v1/principals", key)[0], 401)
        # unknown and malformed ids look the same
        for pid in ("0123456789abcdef", "xyz", "0123456789ABCDEF"):
            st, hd, b = request(self.port, "DELETE", "/v1/principals/" + pid, headers=h)
            self.assert_problem(st, hd, b, 404, "not-found")

    def test_cli_revoke_applies_to_running_server(self):
        pid, key = self.add("short-lived", "admin")
        self.assertEqual(self.get("/v1/principals", key)[0], 200)
        r = run("principal", "revoke", "short-lived", data=self.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.get("/v1/principals", key)[0], 401)
        r = run("principal", "list", data=self.data)
        line = [x for x in r.stdout.splitlines() if x.startswith(pid)][0]
        self.assertRegex(line, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s*$")
        # the name can be reused once revoked; the new key differs
        pid2, key2 = self.add("short-lived", "agent")
        self.assertNotEqual(pid, pid2)
        self.assertEqual(self.get("/v1/principals", key2)[0], 403)


class HostileTest(HttpBase):
    def admin_post(self, extra_headers=b"", body_headers=b"Content-Type: application/json\r\n"):
        return (b"POST /v1/principals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                self.admin_key.encode() + b"\r\n" + body_headers + extra_headers)

    def test_oversized_content_length_413_before_body(self):
        req = self.admin_post(b"Content-Length: %d\r\n\r\n" % (JSON_CAP + 1))
        resp = raw(self.port, req, timeout=5)  # no body byte is ever sent
        self.assertEqual(status_of(resp), 413, resp)
        self.assertIn(b"body-too-large", resp)
        # a body on a route that takes none
        resp = raw(self.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        self.assertEqual(status_of(resp), 413, resp)
        self.assert_alive()

    def test_chunked_over_cap_413(self):
        chunk = b"a" * 8192
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                        for _ in range(JSON_CAP // len(chunk) + 2)) + b"0\r\n\r\n"
        resp = raw(self.port, self.admin_post(b"Transfer-Encoding: chunked\r\n\r\n") + body)
        self.assertEqual(status_of(resp), 413, resp[:200])
        # a small chunked body is fine
        doc = b'{"name":"chunky","role":"agent"}'
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(doc), doc)
        resp = raw(self.port, self.admin_post(b"Transfer-Encoding: chunked\r\n\r\n") + body)
        self.assertEqual(status_of(resp), 201, resp[:300])
        self.assert_alive()

    def test_ambiguous_framing_400(self):
        doc = b'{"name":"framing","role":"agent"}'
        cases = [
            b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(doc), len(doc) + 1),
            b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(doc), len(doc)),
            b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(doc),
            b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n" % len(doc),
            b"Transfer-Encoding: gzip, chunked\r\n\r\n",
            b"Content-Length: +%d\r\n\r\n" % len(doc),
        ]
        for extra in cases:
            resp = raw(self.port, self.admin_post(extra) + doc)
            self.assertIn(status_of(resp), (400,), (extra, resp[:300]))
        self.assertNotIn("framing", [p["name"] for p in json.loads(
            self.get("/v1/principals", self.admin_key)[2])["principals"]])
        self.assert_alive()

    def test_slow_headers_timeout(self):
        t0 = time.time()
        resp = raw(self.port, b"GET /livez HTTP/1.1\r\nHost: x\r\n", timeout=8)
        elapsed = time.time() - t0
        self.assertEqual(resp, b"")
        self.assertLess(elapsed, 7)  # closed by the 2-second timeout, not by our 8 s
        self.assert_alive()

    def test_hostile_json(self):
        h = {"Authorization": "Bearer " + self.admin_key, "Content-Type": "application/json"}
        cases = [
            b"[" * 10000 + b"]" * 10000,
            b'{"a":' * 10000 + b"1" + b"}" * 10000,
            b'{"name":"x","name":"y","role":"agent"}',
            b'{"name":"\xc3\x28","role":"agent"}',
            b'{"name":"\xc0\xae","role":"agent"}',
            b'{"name":"x\x00","role":"agent"}',
            b'{"name":"x","role":"agent"} trailing',
        ]
        for body in cases:
            st, hd, b = request(self.port, "POST", "/v1/principals", body=body, headers=h)
            self.assert_problem(st, hd, b, 400, "invalid-json")
            self.assertNotIn(b"xc3", b)
        self.assert_alive()

    def test_path_tricks(self):
        h = "Authorization: Bearer %s\r\n" % self.admin_key
        paths = [
            ("/v1/principals/%2e%2e", 400), ("/v1/principals/..", 400),
            ("/v1/principals/%2E%2E%2Flivez", 400), ("/v1/principals/a%2fb", 400),
            ("/v1/principals/a%5cb", 400), ("/v1/principals/a%00b", 400),
            ("/v1/principals/%c0%ae%c0%ae", 400), ("/v1/principals/%ed%a0%80", 400),
            ("/v1/principals/%ff", 400), ("/v1/principals/%zz", 400),
            ("/v1/principals/%2", 400), ("/v1/../livez", 400), ("/v1/./principals", 400),
            ("/v1//principals", 400), ("/livez/", 400), ("/v1/principals/%0d%0a", 400),
            ("/nope", 404), ("/v1/principals/%e2%82%ac", 404),
        ]
        for path, want in paths:
            resp = raw(self.port, ("DELETE %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, h))
                       .encode())
            self.assertEqual(status_of(resp), want, (path, resp[:300]))
            self.assertNotIn(path.encode(), resp.partition(b"\r\n\r\n")[2])
        self.assert_alive()
        logs = self.srv.raw_log()
        for path, _ in paths:
            if path not in ("/nope",):
                self.assertNotIn(path.encode(), logs)

    def test_methods(self):
        resp = raw(self.port, b"FROB /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(resp), 501, resp)
        self.assertIn(b"Allow: GET, HEAD", resp)
        st, hd, b = request(self.port, "DELETE", "/livez")
        self.assert_problem(st, hd, b, 405, "method-not-allowed")
        self.assertEqual(hd.get("allow"), "GET, HEAD")
        st, hd, b = request(self.port, "PUT", "/v1/principals")
        self.assertEqual(st, 405)
        self.assertEqual(hd.get("allow"), "GET, HEAD, POST")
        st, hd, b = request(self.port, "HEAD", "/livez")
        self.assertEqual((st, b), (200, b""))
        for m in (b"TRACE", b"CONNECT", b"get", b"G\x01T"):
            resp = raw(self.port, m + b" /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(status_of(resp), (400, 405, 501, None), (m, resp))
        self.assert_alive()

    def test_long_url_and_headers(self):
        for n in (4097, 20000, 100000):
            resp = raw(self.port, b"GET /" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(status_of(resp), (400, 414, 431, None), resp[:200])
        resp = raw(self.port, b"GET /livez?" + b"q=1&" * 40 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(resp), 400, resp[:200])  # > ECL_HTTP_MAX_QUERY_PARAMS
        # MHD runs out of its per-connection pool first and closes without a status
        resp = raw(self.port, b"GET /livez?" + b"q=1&" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(status_of(resp), (400, 414, 431, None), resp[:200])
        for n in (17000, 100000):
            resp = raw(self.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * n +
                       b"\r\n\r\n")
            self.assertIn(status_of(resp), (400, 413, 431, None), resp[:200])
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(3000))
        resp = raw(self.port, b"GET /livez HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertIn(status_of(resp), (400, 413, 431, None), resp[:200])
        self.assert_alive()

    def test_garbage_and_bare_lf(self):
        for data in (b"\x00\x01\x02garbage\r\n\r\n", b"GET /livez HTTP/9.9\r\n\r\n",
                     b"GET /livez\r\n\r\n", b"GET /livez HTTP/1.1\nHost: x\n\n",
                     b"GET /livez HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            resp = raw(self.port, data, timeout=3)
            self.assertIn(status_of(resp), (None, 200, 400, 505), (data, resp[:200]))
        self.assert_alive()


class MetricsTest(HttpBase):
    def test_metrics_parse_and_hide_paths(self):
        self.get("/v1/principals/%2e%2e")
        self.get("/secret-subject-123456")
        self.get("/v1/principals", self.admin_key)
        self.get("/v1/principals", self.agent_key)
        st, hd, body = self.get("/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hd["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        types, samples = parse_prometheus(text)
        self.assertEqual(types["ecluse_http_requests_total"], "counter")
        self.assertEqual(types["ecluse_http_request_duration_seconds"], "histogram")
        for g in ("ecluse_http_connections", "ecluse_http_requests_in_flight",
                  "ecluse_store_map_used_bytes", "ecluse_store_map_size_bytes",
                  "ecluse_http_requests_suspended"):
            self.assertEqual(types[g], "gauge", g)
        key = ("ecluse_http_requests_total", (("route", "/v1/principals"), ("method", "GET"),
                                              ("role", "admin"), ("status", "200")))
        self.assertGreaterEqual(samples[key], 1)
        key = ("ecluse_http_requests_total", (("route", "/v1/principals"), ("method", "GET"),
                                              ("role", "agent"), ("status", "403")))
        self.assertGreaterEqual(samples[key], 1)
        key = ("ecluse_http_requests_total", (("route", "unmatched"), ("method", "any"),
                                              ("role", "none"), ("status", "404")))
        self.assertGreaterEqual(samples[key], 1)
        inf = [v for (n, lab), v in samples.items()
               if n == "ecluse_http_request_duration_seconds_bucket" and ("le", "+Inf") in lab]
        self.assertTrue(inf)
        for bad in ("secret-subject", "%2e", "ek_", self.admin_key, self.admin_id):
            self.assertNotIn(bad, text)
        self.assertRaises(ValueError, parse_prometheus, "bad line here\n")
        self.assertRaises(ValueError, parse_prometheus, '# TYPE x counter\nx{a="1} 1\n')

    def test_logs_are_json_without_secrets(self):
        self.get("/v1/principals?subject=1850799999999", self.admin_key)
        self.get("/v1/principals/%2e%2e", self.admin_key)
        lines = self.srv.lines()  # raises if a line is not JSON
        reqs = [x for x in lines if x.get("event") == "request"]
        self.assertTrue(reqs)
        for x in reqs:
            for k in ("time", "level", "request_id", "method", "route", "status", "duration_ms"):
                self.assertIn(k, x)
        admin_lines = [x for x in reqs if x.get("principal") == self.admin_id]
        self.assertTrue(admin_lines)
        raw_log = self.srv.raw_log()
        for bad in (self.admin_key.split(".")[1], self.agent_key.split(".")[1], "1850799999999",
                    "%2e"):
            self.assertNotIn(bad.encode(), raw_log)


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ecl-http-")
        self.data = os.path.join(self.tmp, "data")
        self.assertEqual(run("init", data=self.data).returncode, 0)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_plain_http_loopback_only(self):
        r = run("serve", "--listen", "0.0.0.0:0", data=self.data, timeout=20)
        self.assertEqual(r.returncode, 64)
        self.assertIn("loopback", r.stderr)
        for bad in (["--listen", "nowhere"], ["--threads", "0"], ["--threads", "x"],
                    ["--tls-cert", "a"], ["extra"], ["--connection-timeout", "-1"]):
            self.assertEqual(run("serve", *bad, data=self.data, timeout=20).returncode, 64, bad)
        r = run("serve", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--tls-cert", r.stdout)


def openssl_cert(tmp, name, cn):
    cert = os.path.join(tmp, name + ".crt")
    key = os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@unittest.skipIf(shutil.which("openssl") is None, "openssl CLI not installed")
class TlsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ecl-tls-")
        self.data = os.path.join(self.tmp, "data")
        self.assertEqual(run("init", data=self.data).returncode, 0)
        self.cert, self.key = openssl_cert(self.tmp, "a", "first")
        self.live_cert = os.path.join(self.tmp, "live.crt")
        self.live_key = os.path.join(self.tmp, "live.key")
        shutil.copy(self.cert, self.live_cert)
        shutil.copy(self.key, self.live_key)
        self.srv = Server(self.data, "--tls-cert", self.live_cert, "--tls-key", self.live_key)

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ctx(self, cafile):
        c = ssl.create_default_context(cafile=cafile)
        return c

    def peer_cert(self):
        c = ssl.create_default_context()
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            with c.wrap_socket(s) as t:
                return t.getpeercert(binary_form=True), t.version()

    def test_tls_versions_and_reload(self):
        st, _, body = request(self.srv.port, "GET", "/livez", ctx=self.ctx(self.cert))
        self.assertEqual(st, 200)
        der, version = self.peer_cert()
        self.assertEqual(version, "TLSv1.3")
        c12 = ssl.create_default_context(cafile=self.cert)
        c12.maximum_version = ssl.TLSVersion.TLSv1_2
        self.assertEqual(request(self.srv.port, "GET", "/livez", ctx=c12)[0], 200)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        try:
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                old.minimum_version = ssl.TLSVersion.TLSv1
                old.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            self.skipTest("this Python cannot offer TLS 1.1")
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                with old.wrap_socket(s) as t:
                    t.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
                    t.recv(100)
        # plain HTTP on the TLS port gets no HTTP answer
        self.assertIsNone(status_of(raw(self.srv.port, b"GET /livez HTTP/1.1\r\n\r\n", 3)))

        # SIGHUP with a broken pair keeps the old certificate
        with open(self.live_cert, "w") as f:
            f.write("not a certificate\n")
        self.srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        self.assertEqual(self.peer_cert()[0], der)
        # SIGHUP with a new pair: new handshakes use it, the service never stopped
        cert2, key2 = openssl_cert(self.tmp, "b", "second")
        shutil.copy(cert2, self.live_cert)
        shutil.copy(key2, self.live_key)
        self.srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while self.peer_cert()[0] == der and time.time() < deadline:
            time.sleep(0.05)
        self.assertNotEqual(self.peer_cert()[0], der)
        self.assertEqual(request(self.srv.port, "GET", "/livez", ctx=self.ctx(cert2))[0], 200)
        msgs = [x.get("msg", "") for x in self.srv.lines() if x.get("event") == "reload"]
        self.assertEqual(sum(1 for m in msgs if m.startswith("TLS")), 2)


if __name__ == "__main__":
    unittest.main()
