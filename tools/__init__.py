"""The built-in tools, one module per tool named after it (installed as ``mmagent.tools``);
``_``-prefixed modules hold what several tools share. The registry finds every tool here by
scanning this package (see :func:`mmagent.toolkit.builtin_tools`)."""
