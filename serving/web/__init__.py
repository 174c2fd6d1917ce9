"""The web page at ``/`` and its static files under ``/web``."""
