"""Tools that other systems would use: Node.js with kafkajs, and Debian's psql.

kafkajs is installed with ``npm ci`` from the committed package.json and
package-lock.json into a cache outside the repository (``$LEANCRM_NPM_CACHE``, else
``~/.cache/leancrm-npm/<hash of the lock file>``), once per lock file. A test that needs
a tool which is not installed is skipped and says which; a failing install fails.
"""

from __future__ import annotations

import pytest

from .tools import NodeClient, Psql, install_node_client, require_tool


@pytest.fixture(scope="session")
def node_client() -> NodeClient:
    return install_node_client()


@pytest.fixture(scope="session")
def psql() -> Psql:
    return Psql(require_tool("psql", "the operations role's queries run through psql"))
