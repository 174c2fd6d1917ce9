"""The ``mcp_servers:`` section of ``mmagent.yaml``: external MCP servers whose tools join the
registry (the client is :mod:`mmagent.toolkit._mcp_client`).

>>> McpServerConfig(url="http://127.0.0.1:9000/mcp").call_timeout_s
300.0
>>> McpServerConfig()
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for McpServerConfig
...
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["McpServerConfig"]


class McpServerConfig(BaseModel):
    """One entry of ``mcp_servers:``: a stdio command or a Streamable HTTP URL."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(None, description="executable that serves MCP on stdio")
    args: list[str] = Field(default_factory=list, description="its arguments")
    env: dict[str, str] = Field(default_factory=dict, description="environment variables for "
                                "the command besides PATH, HOME, ... (${VAR} is expanded)")
    cwd: Path | None = Field(None, description="working directory of the command")
    url: str | None = Field(None, description="Streamable HTTP endpoint, e.g. "
                            "http://127.0.0.1:9000/mcp")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers (${VAR} "
                                    "is expanded), e.g. Authorization")
    tools: list[str] | None = Field(None, description="only these of its tools (default all)")
    media_outputs: list[Literal["image", "audio"]] = Field(
        default_factory=list, description="media content its tools return, offered as "
        "image/audio output ports (default none)")
    connect_timeout_s: float = Field(30.0, gt=0, le=600, description="seconds to start or "
                                     "reach the server and list its tools")
    call_timeout_s: float = Field(300.0, gt=0, le=3600, description="seconds one tool call "
                                  "may take")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("expected exactly one of command (stdio) or url (Streamable HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"got url {self.url[:80]!r}; expected an http(s) URL")
        return self
