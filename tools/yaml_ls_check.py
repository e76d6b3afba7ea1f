"""Check the schemas in real YAML language servers, as an editor uses them.

For each yaml-language-server version given (installed from the npm registry
into a temporary folder), a small LSP client opens the repository's files
through the ``# yaml-language-server: $schema=../schemas/…`` modeline on their
first line (with ``--vscode``, again with the modeline removed, through
``.vscode/settings.json``'s ``yaml.schemas``), with every HTTP(S) fetch sent to a
dead loopback port, and checks:

* every shipped biller and partner file (and ``_defaults.yaml``) gets no
  diagnostic;
* an invalid biller (``overrides.ftp.port: 0``, a rule of the settings schema,
  reached through the biller schema's ``$ref``) gets the one diagnostic on its
  line, and no "Unable to load schema" diagnostic;
* hovering ``host:`` under ``overrides.ftp`` shows the settings schema's
  description of the field.

Usage (needs node and npm; about 20 s a version)::

    python tools/yaml_ls_check.py 1.10.0 1.20.0 latest
    python tools/yaml_ls_check.py --schemas OTHER/schemas 1.20.0   # another copy

With ``--vscode``, 1.20.0 and 2.0.0 pass; 1.10.0 shows no diagnostic at all for
the invalid biller without its modeline (the association is not applied for
this client; not yet understood, the modeline path passes).

Exit 0 when every version passes, 1 otherwise. Not part of the test suite: it
needs npm and takes a while; the suite checks the same files offline with
check-jsonschema.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty, Queue
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEAD_PROXY = "http://127.0.0.1:9"
SETTINGS = {
    "yaml": {
        "validate": True,
        "hover": True,
        "completion": True,
        "schemaStore": {"enable": False},
        "schemas": {},
    },
    "http": {"proxy": DEAD_PROXY, "proxyStrictSSL": False},
}


class Client:
    """A minimal LSP client over a server's stdin/stdout."""

    def __init__(self, command: list[str], cwd: Path, settings: dict[str, Any]) -> None:
        self.settings = settings
        env = dict(os.environ)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = DEAD_PROXY
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages: Queue[dict[str, Any]] = Queue()
        self.diagnostics: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            message = json.loads(stream.read(length))
            if message.get("method") == "textDocument/publishDiagnostics":
                with self._lock:
                    params = message["params"]
                    self.diagnostics[params["uri"]] = params["diagnostics"]
            elif "method" in message and "id" in message:
                self._answer(message)
            else:
                self.messages.put(message)

    def _answer(self, request: dict[str, Any]) -> None:
        """Requests from the server: settings, capability registration, schema lookups."""
        method = request["method"]
        if method == "workspace/configuration":
            items = request["params"]["items"]
            result: Any = [_section(self.settings, item.get("section")) for item in items]
        elif method == "custom/schema/request":
            result = []  # no editor-side schema associations: only the modeline
        else:
            result = None
        self._send({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode("utf-8")
        stdin = self.proc.stdin
        assert stdin is not None
        with self._lock:
            stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
            stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification."""
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: dict[str, Any], timeout: float = 30) -> Any:
        """Send a request and wait for its answer."""
        self._next_id += 1
        ident = self._next_id
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise TimeoutError(f"no answer to {method} in {timeout} s") from None
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def wait_diagnostics(self, uri: str, timeout: float = 30, settle: float = 1.0) -> list[Any]:
        """The diagnostics of ``uri`` once they arrived and stayed unchanged ``settle`` s."""
        deadline = time.monotonic() + timeout
        last: list[Any] | None = None
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                current = self.diagnostics.get(uri)
            if current != last:
                last, stable_since = current, time.monotonic()
            elif current is not None and time.monotonic() - stable_since >= settle:
                return current
            time.sleep(0.05)
        raise TimeoutError(f"no diagnostics for {uri} in {timeout} s")

    def close(self) -> None:
        """Shut the server down (and kill it if it does not exit)."""
        try:
            self.request("shutdown", {}, timeout=5)
            self.notify("exit", {})
            self.proc.wait(timeout=5)
        except (TimeoutError, RuntimeError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def _section(settings: dict[str, Any], section: str | None) -> Any:
    """The value of one settings section (``yaml``, ``http``, ``yaml.validate``...)."""
    node: Any = settings
    for part in (section or "").split("."):
        if not part:
            continue
        node = node.get(part) if isinstance(node, dict) else None
    return node


def install(version: str, into: Path) -> tuple[list[str], str]:
    """Install ``yaml-language-server@version`` with npm; (command, installed version)."""
    into.mkdir(parents=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(into),
            f"yaml-language-server@{version}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    package = into / "node_modules" / "yaml-language-server"
    installed = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    return ["node", str(package / "bin" / "yaml-language-server"), "--stdio"], installed


def workspace(schemas: Path, into: Path) -> Path:
    """A copy of the repository's files with ``schemas`` as its schemas folder."""
    for folder in ("partners", "billers"):
        shutil.copytree(REPO / folder, into / folder)
    shutil.copytree(schemas, into / "schemas")
    return into


def check(command: list[str], root: Path, mode: str) -> list[str]:
    """Every failure of one server on the workspace at ``root`` (empty: all passed).

    ``mode``: ``modeline`` (the files as they are) or ``vscode`` (the modeline
    removed; the schemas associated by ``.vscode/settings.json``'s ``yaml.schemas``).
    """
    failures: list[str] = []
    settings = json.loads(json.dumps(SETTINGS))
    if mode == "vscode":
        vscode = json.loads((REPO / ".vscode" / "settings.json").read_text(encoding="utf-8"))
        settings["yaml"]["schemas"] = vscode["yaml.schemas"]
    client = Client(command, root, settings)
    try:
        client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {
                    "workspace": {"configuration": True, "workspaceFolders": True},
                    "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}},
                },
                "initializationOptions": settings,
            },
        )
        client.notify("initialized", {})
        client.notify("workspace/didChangeConfiguration", {"settings": settings})

        def as_opened(text: str) -> str:
            if mode == "vscode":  # no modeline: the settings' association must do
                assert text.startswith("# yaml-language-server: $schema=")
                return text.split("\n", 1)[1]
            return text

        def open_file(path: Path, text: str) -> str:
            uri = path.as_uri()
            client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
            )
            return uri

        shipped = sorted((root / "billers").glob("*.yaml")) + sorted(
            (root / "partners").glob("*.yaml")
        )
        # All opened first: the servers validate them concurrently, one settle time for all.
        uris = [open_file(path, as_opened(path.read_text(encoding="utf-8"))) for path in shipped]
        for path, uri in zip(shipped, uris, strict=True):
            found = client.wait_diagnostics(uri)
            if found:
                failures.append(f"{path.relative_to(root)}: {_messages(found)}")

        good = as_opened((root / "billers" / "104233.yaml").read_text(encoding="utf-8"))
        bad = good.replace("bid: 104233", "bid: 900001").replace(
            "    host: sftp.", "    port: 0\n    host: sftp."
        )
        bad_path = root / "billers" / "900001.yaml"
        uri = open_file(bad_path, bad)
        found = client.wait_diagnostics(uri)
        port_line = bad.splitlines().index("    port: 0")
        at_port = [d for d in found if d["range"]["start"]["line"] == port_line]
        if len(found) != 1 or not at_port:
            failures.append(f"invalid biller: expected one diagnostic on port: {_messages(found)}")

        host_line = good.splitlines().index(next(x for x in good.splitlines() if "host: sftp" in x))
        hover = client.request(
            "textDocument/hover",
            {
                "textDocument": {"uri": (root / "billers" / "104233.yaml").as_uri()},
                "position": {"line": host_line, "character": 6},
            },
        )
        text = json.dumps(hover or {})
        settings_doc = json.loads((root / "schemas" / "settings.schema.json").read_text("utf-8"))
        wanted = settings_doc["$defs"]["ftp"]["properties"]["host"]["description"]
        if wanted[:40] not in text:
            failures.append(f"hover on overrides.ftp.host: no description in {text[:200]}")
        print(f"  {mode}: {len(shipped)} files opened, invalid biller: {_messages(found)}")
        if wanted[:40] in text:
            print(f"  hover on overrides.ftp.host: {wanted[:60]}…")
    finally:
        client.close()
    return failures


def _messages(diagnostics: list[dict[str, Any]]) -> str:
    return (
        "; ".join(
            f"{d['range']['start']['line'] + 1}: {d['message'].splitlines()[0]}"
            for d in diagnostics
        )
        or "no diagnostic"
    )


def main(argv: list[str] | None = None) -> int:
    """Install and check each version given; exit 0 when all pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", help="yaml-language-server versions (npm tags)")
    parser.add_argument("--schemas", type=Path, default=REPO / "schemas", help="schemas folder")
    parser.add_argument(
        "--vscode",
        action="store_true",
        help="also check with the modeline removed, through .vscode/settings.json",
    )
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory(prefix="yaml-ls-check-") as tmp:
        for version in args.versions:
            command, installed = install(version, Path(tmp) / f"npm-{version}")
            root = workspace(args.schemas, Path(tmp) / f"ws-{version}")
            print(f"yaml-language-server {installed} ({version}):")
            modes = ("modeline", "vscode") if args.vscode else ("modeline",)
            failures = [f for mode in modes for f in check(command, root, mode)]
            for failure in failures:
                print(f"  FAIL {failure}")
            print("  ok" if not failures else f"  {len(failures)} failure(s)")
            failed = failed or bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
