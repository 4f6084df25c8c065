"""Tool servers from mcp.yml: its schema and loading, MCP server connections (Streamable HTTP
or stdio, kept up in the background), their tools as registry Tools, and plain HTTP tools."""
