"""The shipped workflows (``*.yaml``) and their JSON Schema, installed as ``mmagent.graphs``
package data so a wheel install finds them too (see README.md here for the format)."""
