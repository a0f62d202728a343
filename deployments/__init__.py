"""Serving and deploying cardflow: the webhook receiver's ASGI app and deployment snippets."""
