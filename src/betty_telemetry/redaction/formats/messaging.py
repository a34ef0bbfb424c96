"""Chat, e-mail and SMS providers, and the webhook URLs that carry their secrets."""

from __future__ import annotations

from betty_telemetry.redaction.formats._format import (
    ALNUM,
    DIGITS,
    HEX,
    LOWER_ALNUM,
    UPPER_ALNUM,
    URL_SAFE,
    TokenFormat,
    fake,
)

# A Discord bot token starts with its bot's id (digits) in base64: "MT" is "1", "Nz" is "7".
_DISCORD_HEADS = ("MT", "Mj", "Mz", "ND", "NT", "Nj", "Nz", "OD", "OT")

FORMATS = (
    TokenFormat(
        "slack-token",
        "Slack",
        ("xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe."),
        r"(?:xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{100,}|xox[abposre]-(?:[0-9]-)?[A-Za-z0-9\-]{10,})",
        "xoxb-"
        + fake(DIGITS, 12, "slack-1")
        + "-"
        + fake(DIGITS, 13, "slack-2")
        + "-"
        + fake(ALNUM, 24, "slack-3"),
    ),
    TokenFormat(
        "slack-app-token",
        "Slack",
        ("xapp-",),
        r"xapp-[0-9]-[A-Za-z0-9\-]{10,}",
        "xapp-1-A"
        + fake(UPPER_ALNUM, 10, "xapp-1")
        + "-"
        + fake(DIGITS, 13, "xapp-2")
        + "-"
        + fake(HEX, 64, "xapp-3"),
    ),
    TokenFormat(
        "slack-webhook-url",
        "Slack",
        ("hooks.slack.com/",),
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9+/_\-]{20,})",
        "https://hooks.slack.com/services/T"
        + fake(UPPER_ALNUM, 8, "slack-hook-1")
        + "/B"
        + fake(UPPER_ALNUM, 10, "slack-hook-2")
        + "/"
        + fake(ALNUM, 24, "slack-hook-3"),
    ),
    TokenFormat(
        "discord-webhook-url",
        "Discord",
        ("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"),
        r"discord(?:app)?\.com/api/webhooks/(?P<secret>[0-9]+/[A-Za-z0-9_\-]{60,})",
        "https://discord.com/api/webhooks/"
        + fake(DIGITS, 19, "discord-hook-1")
        + "/"
        + fake(URL_SAFE, 68, "discord-hook-2"),
    ),
    TokenFormat(
        "discord-bot-token",
        "Discord",
        _DISCORD_HEADS,
        r"[MNO][A-Za-z0-9]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}"
        r"(?![A-Za-z0-9_\-])",
        "MT"
        + fake(ALNUM, 24, "discord-1")
        + "."
        + fake(URL_SAFE, 6, "discord-2")
        + "."
        + fake(URL_SAFE, 38, "discord-3"),
    ),
    TokenFormat(
        "telegram-bot-token",
        "Telegram",
        ("AA",),
        r"(?<![0-9])[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}(?![A-Za-z0-9_\-])",
        fake(DIGITS, 10, "telegram-1") + ":AA" + fake(URL_SAFE, 33, "telegram-2"),
        reach=11,
    ),
    TokenFormat(
        "twilio-api-key",
        "Twilio",
        ("SK",),
        r"SK[0-9a-fA-F]{32}(?![0-9a-zA-Z])",
        "SK" + fake(HEX, 32, "twilio-api-key"),
    ),
    TokenFormat(
        "sendgrid-api-key",
        "SendGrid",
        ("SG.",),
        r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
        "SG." + fake(URL_SAFE, 22, "sendgrid-1") + "." + fake(URL_SAFE, 43, "sendgrid-2"),
    ),
    TokenFormat(
        "mailgun-api-key",
        "Mailgun",
        ("key-",),
        r"key-[0-9a-zA-Z]{32}(?![0-9a-zA-Z])",
        "key-" + fake(LOWER_ALNUM, 32, "mailgun-api-key"),
    ),
    TokenFormat(
        "mailchimp-api-key",
        "Mailchimp",
        tuple(f"us{digit}" for digit in range(1, 10)),
        r"[0-9a-f]{32}-us[0-9]{1,2}(?![0-9A-Za-z])",
        fake(HEX, 32, "mailchimp-api-key") + "-us12",
        reach=33,
    ),
    TokenFormat(
        "microsoft-teams-webhook-url",
        "Microsoft Teams",
        ("webhook.office.com/",),
        r"webhook\.office\.com/webhookb2/(?P<secret>[A-Za-z0-9\-@/]{40,})",
        "https://contoso.webhook.office.com/webhookb2/"
        + fake(HEX, 36, "teams-1")
        + "@"
        + fake(HEX, 36, "teams-2")
        + "/IncomingWebhook/"
        + fake(HEX, 32, "teams-3"),
    ),
    TokenFormat(
        "zapier-webhook-url",
        "Zapier",
        ("hooks.zapier.com/",),
        r"hooks\.zapier\.com/hooks/catch/(?P<secret>[0-9]+/[A-Za-z0-9]+)",
        "https://hooks.zapier.com/hooks/catch/"
        + fake(DIGITS, 7, "zapier-1")
        + "/"
        + fake(LOWER_ALNUM, 7, "zapier-2"),
    ),
    TokenFormat(
        "twitter-bearer-token",
        "X (Twitter)",
        ("AAAAAAAAAAAAAAAAAAAAA",),
        r"A{22}[A-Za-z0-9%]{30,}",
        "A" * 22 + fake(ALNUM, 80, "twitter-bearer-token"),
    ),
)
