"""Serving layer (installed as ``mmagent.serving``).

Today mmagent runs embedded (in-process) through the SDK and the CLI. The HTTP endpoint and the
Ray Serve deployments are tracked as the serving issue.
"""
