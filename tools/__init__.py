"""Model tools, one module per tool family (installed as ``mmagent.tools``)."""
