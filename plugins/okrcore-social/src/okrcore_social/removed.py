"""Metrics that Meta has removed, each with its replacement (checked at lint time, no I/O).

Facebook Page Insights: ``page_impressions`` and ``page_fans*`` were removed for all API versions
on 2025-11-15 (use ``page_media_view`` and ``page_follows``); ``page_impressions_unique`` and the
other unique impression metrics were removed in 2025-06 (use ``page_total_media_view_unique``).
Instagram: the January 2025 (v21.0) deprecations replaced plays, impressions and video views by
``views`` and the contact-button clicks by ``profile_links_taps``.
"""

from __future__ import annotations

__all__ = ["facebook_replacement", "instagram_replacement"]

_FACEBOOK_EXACT = {
    "page_fan_adds": "page_daily_follows_unique",
    "page_fan_adds_unique": "page_daily_follows_unique",
    "page_fan_removes": "page_daily_unfollows_unique",
    "page_fan_removes_unique": "page_daily_unfollows_unique",
}

_INSTAGRAM = {
    "impressions": "views",
    "plays": "views",
    "video_views": "views",
    "clips_replays_count": "views",
    "ig_reels_aggregated_all_plays_count": "views",
    "email_contacts": "profile_links_taps",
    "get_directions_clicks": "profile_links_taps",
    "phone_call_clicks": "profile_links_taps",
    "text_message_clicks": "profile_links_taps",
}


def facebook_replacement(metric: str) -> str | None:
    """The metric to use instead of a removed Page Insights metric; ``None`` if not removed."""
    if metric in _FACEBOOK_EXACT:
        return _FACEBOOK_EXACT[metric]
    if metric.startswith("page_impressions"):
        return "page_total_media_view_unique" if "unique" in metric else "page_media_view"
    if metric.startswith(("page_fans", "page_fan_")):
        return "page_follows"
    return None


def instagram_replacement(metric: str) -> str | None:
    """The metric to use instead of a removed Instagram insights metric; ``None`` if not removed."""
    return _INSTAGRAM.get(metric)
