"""MCP: every tool, workflow and the agent as MCP tools, at ``/mcp`` and over stdio."""
