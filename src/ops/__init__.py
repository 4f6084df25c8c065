"""Running the process: the event loop, logging set-up, the health and metrics server,
Prometheus metrics, and lean imports of python-telegram-bot."""
