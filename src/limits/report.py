"""What /usage and /users say about a user's spend, against the limits that apply to them."""

from __future__ import annotations

from src.limits.ledger import Spent, UserSpend
from src.limits.policy import Limits


def spend_lines(limits: Limits, user_id: int | None, spend: UserSpend, who: str) -> list[str]:
    """Today's and this month's totals of one user ("you" / "user 42"), each limit that
    applies with its share used and when it resets, and the bot's cap."""
    lines = []
    for period, spent, label in (("day", spend.day, "today"), ("month", spend.month, "this month")):
        lines.append(f"{who.capitalize()}, {label}: {amounts(spent)}")
        for limit in limits.applying(user_id):
            if limit.period == period and not limit.whole_bot:
                share = 100 * limit.used(spend) / limit.value
                lines.append(
                    f"  {limit.phrase()}: {share:.0f} % used, resets {limit.resets(spend.periods)}"
                )
    if user_id is not None and limits.exempt(user_id) and limits.user_limits:
        lines.append("Per-user limits don't apply to admins.")
    for limit in limits.bot_limits:
        lines.append(
            f"The whole assistant this month: ${spend.bot_month.usd:,.2f} of its "
            f"${limit.value:,.2f} cap"
        )
    unpriced = spend.month.unpriced
    if unpriced:
        lines.append(
            f"{unpriced:,} request(s) this month were of models without a price (llm.models "
            "in config.yml): counted in tokens only."
        )
    return lines


def amounts(spent: Spent) -> str:
    return f"{spent.tokens:,} tokens, ${spent.usd:,.4f} ({spent.requests:,} request(s))"


def month_summary(spend: UserSpend) -> str:
    """One line for /users: this month's tokens and dollars."""
    return f"{spend.month.tokens:,} tokens, ${spend.month.usd:,.2f} this month"
