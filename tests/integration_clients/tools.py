"""What the integration-client tests use to act as another system: Node.js with
kafkajs (installed by npm into a cache outside the repository), and Debian's psql."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

NODE_DIR = Path(__file__).parent / "node"


def require_tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"`{name}` is not installed ({why})")
    return path


def npm_cache_root() -> Path:
    if os.environ.get("LEANCRM_NPM_CACHE"):
        return Path(os.environ["LEANCRM_NPM_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "leancrm-npm"


@dataclass(frozen=True)
class NodeClient:
    node: str
    node_modules: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "NODE_PATH": str(self.node_modules), **extra}


def install_node_client(directory: Path = NODE_DIR) -> NodeClient:
    """Node.js with the packages of ``directory`` (kafkajs by default) installed from its
    committed lock file in a cache."""
    node = require_tool("node", "Node.js runs the kafkajs integration client")
    npm = require_tool("npm", "npm installs kafkajs for the integration client")
    files = ("package.json", "package-lock.json")
    digest = hashlib.sha256(b"".join((directory / f).read_bytes() for f in files)).hexdigest()[:16]
    root = npm_cache_root()
    target = root / digest
    if not (target / "node_modules" / "kafkajs" / "package.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=root))
        for f in files:
            shutil.copy2(directory / f, staging / f)
        proc = subprocess.run(
            [npm, "ci", "--prefix", str(staging), "--no-audit", "--no-fund", "--ignore-scripts"],
            capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm ci of {directory} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        try:
            os.replace(staging, target)
        except OSError:  # another run installed the same lock file meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return NodeClient(node=node, node_modules=target / "node_modules")


@dataclass(frozen=True)
class PsqlResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Psql:
    """Debian's psql client, run as a separate process as an operator would."""

    binary: str

    async def run(self, dsn: str, *commands: str, password: str | None = None) -> PsqlResult:
        args = [self.binary, dsn, "-X", "--csv", "-v", "ON_ERROR_STOP=1"]
        for c in commands:
            args += ["-c", c]
        env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
        if password is not None:
            env["PGPASSWORD"] = password
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode is not None
        return PsqlResult(proc.returncode, out.decode(), err.decode())


def as_role(dsn: str, role: str, password: str | None = None) -> str:
    """``dsn`` with its user replaced by ``role`` (and its password by ``password``):
    ``postgresql://postgres:@/postgres?host=/tmp/x`` -> ``postgresql://leancrm_ops@/postgres?host=/tmp/x``."""
    parts = urlsplit(dsn)
    hostport = parts.netloc.rsplit("@", 1)[-1]
    user = role if password is None else f"{role}:{password}"
    return urlunsplit((parts.scheme, f"{user}@{hostport}", parts.path, parts.query, parts.fragment))
