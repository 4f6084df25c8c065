"""What the bot says on its own (not the model). Short, human, no internals."""

HELP = (
    "I'm your personal assistant. Write to me, or send a voice note, and I'll answer.\n\n"
    "/reset - forget this conversation and start fresh\n"
    "/agent - show the assistants, or pin one for this chat\n"
    "/usage - tokens used in this chat and their estimated cost\n"
    "/help - show this message"
)
START = "Hi! " + HELP
RESET_DONE = "Done. I've forgotten this conversation; let's start fresh."
UNSUPPORTED = (
    "I can take text messages and voice notes (also audio files and round videos). "
    "Photos, stickers, documents, locations and polls aren't something I can use yet."
)
TEXT_ONLY = "I can only read text messages here. Please write your request as text."
UNKNOWN_COMMAND = "I don't know that command.\n\n" + HELP
MODEL_TIMEOUT = "Sorry, the model took too long to answer. Please try again."
MODEL_DOWN = "Sorry, I can't reach the model right now. Please try again in a moment."
STORE_DOWN = "Sorry, I couldn't save our conversation just now. Please try again shortly."
FAILED = "Sorry, something went wrong on my side. Please try again."
ADMINS_ONLY = "Sorry, only the bot's admins can use that command."
NO_TOOL_SERVERS = "No tool servers are configured."


def refused(user_id: int) -> str:
    return (
        "Sorry, this is a private assistant and you're not on its list of users.\n"
        f"Your Telegram user id is {user_id}; the owner can add it to "
        "telegram.allowed_user_ids."
    )
