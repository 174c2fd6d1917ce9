"""Ray Serve: one deployment per tool plus the HTTP ingress."""
