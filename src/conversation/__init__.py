"""A conversation as the agent sees it: Message, ConversationManager, the window of history
sent to the model (always valid for the API), compaction, token budget and usage totals."""
