"""The assistant. Entry: cli/ (flags, config, --check, wiring) -> runtime.py (store, model,
tools, Coordinator) -> channels/ (Telegram, console) -> agents/ (the turn) -> llm/, tools/,
toolservers/ (MCP), conversation/ (history, window) -> store/ (persistence); config/, errors.py
and ops/ (logging, health, metrics, event loop) are used throughout."""
