"""The MCP server at /mcp: tools and resources answered by the REST API of the same app."""

from api.mcp.server import McpEndpoint, mount_mcp

__all__ = ["McpEndpoint", "mount_mcp"]
