"""What the bot says on its own (not the model). Short, human, no internals.

The console channel shows the same texts for the same failures (src/channels/failures.py).
"""

HELP = (
    "I'm your personal assistant. Write to me, or send a voice note, and I'll answer.\n\n"
    "/reset - forget this conversation and start fresh (not what I remember about you)\n"
    "/memory - what I remember about you, kept across conversations\n"
    "/forget <id> - make me forget one of those facts; /forget all - all of them\n"
    "/agent - show the assistants, or pin one for this chat\n"
    "/model - show the models, or pick one for this chat\n"
    "/usage - tokens used, their cost, and your limits\n"
    "/help - show this message\n\n"
    "Admins also have /allow <user id>, /deny <user id>, /users, /invite "
    "(a one-time code a new user sends as /start <code>) and /audit (the latest tool runs)."
)
REMINDERS_HELP = (  # with scheduler.enabled
    '\n\nReminders: ask me, e.g. "remind me at 9 to call the dentist" or "every weekday '
    "at 8, tell me what's on today\". /reminders lists and cancels them, /timezone sets your "
    "time zone. /reset does not cancel them."
)
PHOTOS_HELP = (  # with vision.enabled
    "\n\nPhotos: send a photo or an image file (an album too), with your question as its "
    "caption, and I'll look at it; I keep seeing it for the next couple of messages."
)
DOCUMENTS_HELP = (  # with documents.enabled
    "\n\nDocuments: send me a PDF, a Word document (.docx) or a text file (Markdown, CSV, "
    "JSON, source code, ...) up to 20 MB, with what you'd like done with it as the caption, "
    "and I'll read it. Pictures and files my tools make are sent to you after my answer."
)
START = "Hi! " + HELP
WELCOME = "Welcome! You're in: the invitation worked.\n\n" + HELP
RESET_DONE = "Done. I've forgotten this conversation; let's start fresh."
UNSUPPORTED = (
    "I can take text messages, voice notes (also audio files and round videos), photos and "
    "documents. Stickers, locations, contacts and polls aren't something I can use."
)
TEXT_ONLY = "I can only read text messages here. Please write your request as text."
UNKNOWN_COMMAND = "I don't know that command.\n\n" + HELP
MODEL_TIMEOUT = "Sorry, the model took too long to answer. Please try again."
EMPTY_MESSAGE = "That message looks empty to me. What would you like to ask?"
MODEL_DOWN = "Sorry, I can't reach the model right now. Please try again in a moment."
MODEL_BUSY = "The model is busy right now (too many requests). Please try again in a minute."
MODEL_REFUSED = (
    "Sorry, the model refused that request. Please try rephrasing it; if this keeps "
    "happening, /reset starts this conversation fresh."
)
CONTENT_REFUSED = (
    "Sorry, the model's provider declined to answer that under its content policy. "
    "Could you ask in a different way?"
)
NO_IMAGE_INPUT = (
    "Sorry, the model I'm using can't look at images, so I couldn't see that. You could "
    "describe it in words instead."
)
VISION_OFF = (
    "I can't look at photos or images here: image input is turned off for this assistant. "
    "You could describe it in words instead."
)
MODEL_AUTH = (
    "Sorry, I can't use the model right now: it refused my credentials. This is for the "
    "bot's owner to fix; I've let them know in the log."
)
HISTORY_SET_ASIDE = (
    "(The model couldn't take our earlier conversation, so I answered from this message "
    "alone and will go on from here. Earlier messages are still saved; /reset deletes them.)"
)
STORE_DOWN = "Sorry, I couldn't save our conversation just now. Please try again shortly."
FAILED = "Sorry, something went wrong on my side. Please try again."
ADMINS_ONLY = "Sorry, only the bot's admins can use that command."
NO_TOOL_SERVERS = "No tool servers are configured."


def refused(user_id: int) -> str:
    return (
        "Sorry, this is a private assistant and you're not on its list of users.\n"
        f"Your Telegram user id is {user_id}: an admin can let you in with /allow "
        f"{user_id}, or send you an invitation code to use as /start <code>."
    )


def slowed(per_minute: float) -> str:
    return (
        f"You're sending messages faster than the {per_minute:g} a minute this assistant "
        "takes. I'll answer the rest in order, a little more slowly."
    )


def dropped(per_minute: float) -> str:
    return (
        f"You're sending messages faster than the {per_minute:g} a minute this assistant "
        "takes, so I'm skipping the ones over that. Please send them again in a minute."
    )


def who(name: str, username: str | None) -> str:
    """How a user is named in notices: "Ada Lovelace, @ada"."""
    return ", ".join(part for part in (name.strip(), f"@{username}" if username else "") if part)


def joined(user_id: int, name: str) -> str:
    named = f" ({name})" if name else ""
    return f"User {user_id}{named} joined with your invitation."
