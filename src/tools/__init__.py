"""Tools the model may call: the Tool interface, the ToolRegistry (names, schemas, argument
checks, capped results) and the built-in tools."""
