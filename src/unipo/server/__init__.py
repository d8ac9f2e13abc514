"""The UNIPO server: a read-only JSON API over run directories, plus the built web app."""
from unipo.server.app import create_app
from unipo.server.serve import serve

__all__ = ["create_app", "serve"]
