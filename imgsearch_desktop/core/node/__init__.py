"""The managed local Elasticsearch node.

archive.py fetches, verifies and safely unpacks the distribution; runtime.py finds Java, picks the unprivileged
user and keeps that user's directories safe for root to write into; identity.py asks the kernel who holds a pid or
a port; node.py starts, stops and reports on the node; health.py keeps it up (the window's and `watch`'s probe and
restarts); client.py is the Elasticsearch client that only ever talks
to the proven node (it imports elasticsearch, so it is not imported here).
"""

from imgsearch_desktop.core.node.archive import (
    ES_VERSION,
    MAVEN_ARTIFACT,
    PINNED_SHA512,
    download,
    extract,
    fetch_with_maven,
    obtain_archive,
)
from imgsearch_desktop.core.node.node import HTTP_PORTS, LocalNode, NodeStatus
from imgsearch_desktop.core.node.runtime import find_java, run_as
from imgsearch_desktop.errors import LocalEsError

__all__ = ["ES_VERSION", "HTTP_PORTS", "MAVEN_ARTIFACT", "PINNED_SHA512", "LocalEsError", "LocalNode", "NodeStatus",
           "download", "extract", "fetch_with_maven", "find_java", "obtain_archive", "run_as"]
