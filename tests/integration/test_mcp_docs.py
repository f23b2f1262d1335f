"""The MCP contract stays in one place: docs/mcp.md shows exactly the tool definitions that the
gateway embeds (gateway/mcp/mcp_tools.json), and the SDK client harness is pinned and parses."""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ecltest import SOURCE_DIR  # noqa: E402

TOOLS = os.path.join(SOURCE_DIR, "gateway", "mcp", "mcp_tools.json")
DOC = os.path.join(SOURCE_DIR, "docs", "mcp.md")
CLIENT = os.path.join(SOURCE_DIR, "tests", "mcp-client")


def tool_sections(text):
    """{tool name: [json blocks of its section]} from the '### `name`' headings."""
    out = {}
    parts = re.split(r"^### `([a-z_]+)`\s*$", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        body = body.split("\n## ", 1)[0]
        out[name] = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", body, re.S)]
    return out


class McpDocs(unittest.TestCase):
    def setUp(self):
        with open(TOOLS, encoding="utf-8") as f:
            self.tools = json.load(f)["tools"]
        with open(DOC, encoding="utf-8") as f:
            self.doc = f.read()

    def test_every_tool_documented_with_its_exact_schemas(self):
        sections = tool_sections(self.doc)
        self.assertEqual([t["name"] for t in self.tools], list(sections))
        for t in self.tools:
            blocks = sections[t["name"]]
            self.assertGreaterEqual(len(blocks), 4, t["name"])
            self.assertEqual(blocks[0], t["inputSchema"], t["name"] + " inputSchema")
            self.assertEqual(blocks[1], t["outputSchema"], t["name"] + " outputSchema")
            self.assertEqual(blocks[2]["params"]["name"], t["name"])
            self.assertIn(t["description"], self.doc)

    def test_tamper_is_detected(self):
        # The comparison above must be able to fail: change one schema keyword.
        tampered = self.doc.replace('"maximum": 1000', '"maximum": 5000', 1)
        self.assertNotEqual(tampered, self.doc)
        q = next(t for t in self.tools if t["name"] == "query_records")
        self.assertNotEqual(tool_sections(tampered)["query_records"][0], q["inputSchema"])

    def test_sdk_pinned_in_lock_file(self):
        with open(os.path.join(CLIENT, "package.json"), encoding="utf-8") as f:
            want = json.load(f)["dependencies"]["@modelcontextprotocol/sdk"]
        self.assertRegex(want, r"^1\.\d+\.\d+$")  # exact 1.x version, no range
        with open(os.path.join(CLIENT, "package-lock.json"), encoding="utf-8") as f:
            lock = json.load(f)
        got = lock["packages"]["node_modules/@modelcontextprotocol/sdk"]
        self.assertEqual(got["version"], want)
        self.assertTrue(got["integrity"].startswith("sha512-"))

    @unittest.skipIf(shutil.which("node") is None, "node is not installed")
    def test_client_parses(self):
        r = subprocess.run(["node", "--check", os.path.join(CLIENT, "client_test.mjs")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
