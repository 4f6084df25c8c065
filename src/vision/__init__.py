"""Images for the model: made ready to send (prepare.py)."""
