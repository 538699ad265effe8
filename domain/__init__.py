"""Rules the API, the CLI, the MCP server and the workers share: the handle grammar, trait keys,
quality label words and effort levels.

Each rule is defined here once. This package imports only the standard library, so the CLI can use
it without loading the HTTP layer, and the engine without loading anything else.
"""
