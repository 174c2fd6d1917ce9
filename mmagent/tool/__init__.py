"""The tool contract (:class:`Tool`: typed ports, lazy load, batched run; :class:`PipelineTool`
for model tools; ``@tool`` for plain functions), the registry that names them, input bounds,
sample inputs, device choice, and MCP servers' tools.

>>> from mmagent.tool import Tool, ToolRegistry
>>> ToolRegistry().names()
[]
"""

from mmagent.tool._base import (
    TINY,
    Ports,
    Resources,
    Tool,
    ToolContext,
    default_cache_dir,
    port_type,
)
from mmagent.tool._bounds import (
    check_audio_seconds,
    check_bound,
    check_image_pixels,
    check_video_frames,
    check_video_seconds,
    input_error,
)
from mmagent.tool._catalog import render_tools_md, tool_entries
from mmagent.tool._decorator import tool
from mmagent.tool._device import resolve_device, resolve_dtype
from mmagent.tool._mcp_client import McpServerError, add_mcp_tools
from mmagent.tool._pipeline import PipelineTool, group_rows
from mmagent.tool._registry import ENTRY_POINT_GROUP, ToolRegistry, builtin_tools
from mmagent.tool._residency import GiB
from mmagent.tool._samples import WORDS, sample_audio, sample_image, sample_video

__all__ = ["Tool", "PipelineTool", "tool", "ToolContext", "Ports", "Resources", "TINY",
           "default_cache_dir", "port_type", "group_rows", "ToolRegistry", "ENTRY_POINT_GROUP",
           "builtin_tools", "tool_entries", "render_tools_md", "check_bound",
           "check_image_pixels", "check_audio_seconds", "check_video_seconds",
           "check_video_frames", "input_error", "resolve_device", "resolve_dtype",
           "McpServerError", "add_mcp_tools", "GiB", "WORDS", "sample_image",
           "sample_audio", "sample_video"]
