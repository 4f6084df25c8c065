"""Spend control: what model calls cost, what each user and the bot spent, and the limits.

- prices.py:  the price table (config `llm.models`) and what one call costs
- periods.py: calendar days and months in the configured time zone, and when they reset
- ledger.py:  spend counters per user per day and month, and for the bot per month
- policy.py:  the limits: refuse a turn before it starts, stop a tool loop, warn once
- rate.py:    messages per minute per user (a token bucket), one notice per burst
"""
