"""Documents in: which files are read (kinds.py), their text (extract.py, in a worker
thread), and the turn the model gets (prompt.py: the caption as the request, the file as
delimited data). Channel-independent: the Telegram side is src/channels/telegram/documents.py."""
