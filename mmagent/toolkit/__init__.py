"""The tool contract (:class:`Tool`: typed ports, lazy load, batched run; :class:`PipelineTool`
for model tools; ``@tool`` for plain functions), the registry that names them, input bounds,
sample inputs, device choice, and MCP servers' tools.

>>> from mmagent.toolkit import Tool, ToolRegistry
>>> ToolRegistry().names()
[]
"""

from mmagent.toolkit._base import (
    TINY,
    Ports,
    Resources,
    Tool,
    ToolContext,
    default_cache_dir,
    port_type,
)
from mmagent.toolkit._bounds import (
    check_audio_seconds,
    check_bound,
    check_image_pixels,
    check_video_frames,
    check_video_seconds,
    input_error,
)
from mmagent.toolkit._catalog import render_tools_md, tool_entries
from mmagent.toolkit._client_tools import ClientFunction, ClientTool, client_tools
from mmagent.toolkit._decorator import tool
from mmagent.toolkit._device import resolve_device, resolve_dtype
from mmagent.toolkit._mcp_client import McpServerError, McpTool, add_mcp_tools
from mmagent.toolkit._paths import check_server_paths, server_path_fields
from mmagent.toolkit._pipeline import PipelineTool, group_rows
from mmagent.toolkit._registry import ENTRY_POINT_GROUP, ToolRegistry, builtin_tools
from mmagent.toolkit._residency import GiB
from mmagent.toolkit._samples import WORDS, sample_audio, sample_image, sample_video

__all__ = ["Tool", "PipelineTool", "tool", "ClientFunction", "ClientTool", "client_tools",
           "McpTool", "ToolContext", "Ports", "Resources", "TINY",
           "check_server_paths", "server_path_fields",
           "default_cache_dir", "port_type", "group_rows", "ToolRegistry", "ENTRY_POINT_GROUP",
           "builtin_tools", "tool_entries", "render_tools_md", "check_bound",
           "check_image_pixels", "check_audio_seconds", "check_video_seconds",
           "check_video_frames", "input_error", "resolve_device", "resolve_dtype",
           "McpServerError", "add_mcp_tools", "GiB", "WORDS", "sample_image",
           "sample_audio", "sample_video"]
