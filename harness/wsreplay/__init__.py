"""wsreplay: a regression-test server and conformance harness for WebSocket clients."""

__version__ = "0.1.0"
