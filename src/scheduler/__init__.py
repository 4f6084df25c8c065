"""Reminders and scheduled tasks: the assistant speaks first, at a set time.

- timing.py:  when: ISO 8601 times in the user's zone, delays, cron repeats (cronsim), checks
- entries.py: the entries in the records facility (kind "reminder", by user and by due time),
              their claim before delivery and completion after it; users' time zones
- tools.py:   the built-in tools schedule_message, list_scheduled, cancel_scheduled
- runner.py:  the loop that sleeps until the next entry is due and hands it to the channel
"""
