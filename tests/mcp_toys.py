"""A small real MCP server (official SDK) for the MCP client tests: text, structured output and
an image. ``python tests/mcp_toys.py`` serves stdio; ``--http PORT`` serves Streamable HTTP."""

import base64
import io
import os
import sys
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Image
from PIL import Image as PILImage
from pydantic import BaseModel, Field

toys = MCPServer("toys")


class Count(BaseModel):
    words: int = Field(description="how many words")
    longest: str = Field(description="the longest word")


@toys.tool()
def shout(text: str) -> str:
    """Upper-cases text and adds an exclamation mark."""
    return text.upper() + "!"


@toys.tool()
def word_count(text: str) -> Count:
    """Counts the words of a text."""
    words = text.split()
    return Count(words=len(words), longest=max(words, key=len) if words else "")


@toys.tool()
def swatch(color: str, size: int = 8) -> Image:
    """Paints a square of one colour (a CSS colour name) with the given side in pixels."""
    buf = io.BytesIO()
    PILImage.new("RGB", (size, size), color).save(buf, format="PNG")
    return Image(data=buf.getvalue(), format="png")


@toys.tool()
def measure(image: Annotated[str, Field(
        description="a PNG image", json_schema_extra={"contentMediaType": "image/png",
                                                      "contentEncoding": "base64"})]) -> str:
    """Says the width and height of an image."""
    with PILImage.open(io.BytesIO(base64.b64decode(image))) as im:
        return f"{im.width}x{im.height}"


@toys.tool()
def env(name: str) -> str:
    """The value of an environment variable of this server ('' if unset)."""
    return os.environ.get(name, "")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        toys.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        toys.run()
