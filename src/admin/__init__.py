"""The admin web page (`admin.enabled`): conversations, usage against the budgets, tool
servers and who may use the bot, served by the health server under `admin.path` and signed
in to with ADMIN_TOKEN.

app.py      the sub-application: the guard (sessions, CSRF, headers) and signing in and out
auth.py     the token check, sessions, CSRF tokens, the limiter of wrong tokens
pages.py    the page handlers
history.py  usage.py  views.py  chart.py   what the pages read and draw
render.py   Jinja2 (autoescape on) over templates/; static/ holds the style sheet

Imported only when the page is enabled (Jinja2 loads with it), by the Telegram service.
"""
