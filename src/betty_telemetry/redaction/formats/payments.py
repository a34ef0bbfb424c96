"""Payment processors. Card numbers are matched by their own rule (``cards``)."""

from __future__ import annotations

from betty_telemetry.redaction.formats._format import (
    ALNUM,
    HEX,
    LOWER_ALNUM,
    URL_SAFE,
    TokenFormat,
    fake,
)

FORMATS = (
    TokenFormat(
        "stripe-secret-key",
        "Stripe",
        ("sk_live_", "sk_test_"),
        r"sk_(?:live|test)_[0-9a-zA-Z]{10,247}",
        "sk_" + "live_" + fake(ALNUM, 99, "stripe-secret-key"),
    ),
    TokenFormat(
        "stripe-restricted-key",
        "Stripe",
        ("rk_live_", "rk_test_"),
        r"rk_(?:live|test)_[0-9a-zA-Z]{10,247}",
        "rk_" + "live_" + fake(ALNUM, 99, "stripe-restricted-key"),
    ),
    TokenFormat(
        "stripe-webhook-secret",
        "Stripe",
        ("whsec_",),
        r"whsec_[A-Za-z0-9+/=]{24,}",
        "whsec_" + fake(ALNUM, 32, "stripe-webhook-secret"),
    ),
    TokenFormat(
        "square-access-token",
        "Square",
        ("sq0atp-", "EAAA"),
        r"(?:sq0atp-[0-9A-Za-z_\-]{22,}|EAAA[a-zA-Z0-9_\-+=]{60}(?![a-zA-Z0-9_\-+=]))",
        "sq0atp-" + fake(URL_SAFE, 22, "square-access-token"),
    ),
    TokenFormat(
        "square-oauth-secret",
        "Square",
        ("sq0csp-",),
        r"sq0csp-[0-9A-Za-z_\-]{43}",
        "sq0csp-" + fake(URL_SAFE, 43, "square-oauth-secret"),
    ),
    TokenFormat(
        "shopify-token",
        "Shopify",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![a-fA-F0-9])",
        "shpat_" + fake(HEX, 32, "shopify-token"),
    ),
    TokenFormat(
        "braintree-access-token",
        "PayPal Braintree",
        ("access_token$production$", "access_token$sandbox$"),
        r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}",
        "access_token$production$"
        + fake(LOWER_ALNUM, 16, "braintree-1")
        + "$"
        + fake(HEX, 32, "braintree-2"),
    ),
    TokenFormat(
        "razorpay-key",
        "Razorpay",
        ("rzp_live_", "rzp_test_"),
        r"rzp_(?:live|test)_[A-Za-z0-9]{14,}",
        "rzp_" + "live_" + fake(ALNUM, 14, "razorpay-key"),
    ),
    TokenFormat(
        "flutterwave-secret-key",
        "Flutterwave",
        ("FLWSECK_TEST-", "FLWSECK-"),
        r"FLWSECK(?:_TEST)?-[a-h0-9]{32}-X",
        "FLWSECK-" + fake("abcdefgh0123456789", 32, "flutterwave") + "-X",
    ),
    TokenFormat(
        "plaid-access-token",
        "Plaid",
        ("access-sandbox-", "access-development-", "access-production-"),
        r"access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}"
        r"-[0-9a-f]{4}-[0-9a-f]{12}",
        "access-production-"
        + "-".join(fake(HEX, n, f"plaid-{n}-{i}") for i, n in enumerate((8, 4, 4, 4, 12))),
    ),
    TokenFormat(
        "facebook-access-token",
        "Meta",
        ("EAA",),
        r"EAA[A-Za-z0-9]{90,}",
        "EAAB" + fake(ALNUM, 150, "facebook-access-token"),
    ),
    TokenFormat(
        "easypost-api-key",
        "EasyPost",
        ("EZAK", "EZTK"),
        r"EZ[AT]K[A-Za-z0-9]{54}(?![A-Za-z0-9])",
        "EZAK" + fake(ALNUM, 54, "easypost-api-key"),
    ),
    TokenFormat(
        "shippo-token",
        "Shippo",
        ("shippo_live_", "shippo_test_"),
        r"shippo_(?:live|test)_[a-f0-9]{40}",
        "shippo_" + "live_" + fake(HEX, 40, "shippo-token"),
    ),
    TokenFormat(
        "duffel-token",
        "Duffel",
        ("duffel_live_", "duffel_test_"),
        r"duffel_(?:live|test)_[A-Za-z0-9_\-=]{43}",
        "duffel_" + "live_" + fake(URL_SAFE, 43, "duffel-token"),
    ),
)
