"""okrcore notifiers: push okrcore reports to chat robots and mailboxes.

Registered with okrcore through the ``okrcore`` entry point (module :mod:`okrcore_notify.plugin`):
``slack``, ``teams``, ``feishu`` (also ``lark``), ``dingtalk``, ``webhook`` and ``email``.
"""

from __future__ import annotations

from .dingtalk import DingTalkNotifier, dingtalk_sign
from .email import EmailNotifier
from .feishu import FeishuNotifier, LarkNotifier, feishu_sign
from .slack import SlackNotifier
from .teams import TeamsNotifier
from .webhook import WebhookNotifier

__all__ = [
    "DingTalkNotifier",
    "EmailNotifier",
    "FeishuNotifier",
    "LarkNotifier",
    "SlackNotifier",
    "TeamsNotifier",
    "WebhookNotifier",
    "dingtalk_sign",
    "feishu_sign",
]

NOTIFIERS = (
    SlackNotifier,
    TeamsNotifier,
    FeishuNotifier,
    LarkNotifier,
    DingTalkNotifier,
    WebhookNotifier,
    EmailNotifier,
)
