"""Deployment files and the local Marketo sandbox server."""
