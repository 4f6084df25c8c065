"""Long-term memory: facts each user asked the assistant to keep, across conversations.

- facts.py:    a fact: its text made safe, its id (a hash of the normalised text), its record
- ranking.py:  a small BM25 index over one user's facts, changed fact by fact
- store.py:    the facts as records (kind "fact", the user index) behind a per-user cache
- prompt.py:   the memory block of the system message, as data, within a budget
- service.py:  whose memory a turn uses (the speaking user; groups only with in_groups)
- tools.py:    the model's remember, forget and recall tools
- commands.py: /memory and /forget
- extract.py:  optional: facts proposed by a cheap model call after a turn (auto_extract)
"""
