"""Observability, productivity and other software-as-a-service providers; JSON web tokens."""

from __future__ import annotations

from betty_telemetry.redaction.formats._format import (
    ALNUM,
    BASE64,
    DIGITS,
    HEX,
    LOWER_ALNUM,
    UPPER_ALNUM,
    URL_SAFE,
    TokenFormat,
    fake,
)

FORMATS = (
    TokenFormat(
        "jwt",
        "JSON Web Token (any issuer)",
        ("eyJ",),
        r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ"
        + fake(URL_SAFE, 60, "jwt-1")
        + "."
        + fake(URL_SAFE, 43, "jwt-2"),
    ),
    TokenFormat(
        "newrelic-key",
        "New Relic",
        ("NRAK-", "NRII-", "NRJS-", "NRAA-"),
        r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{27}(?![A-Za-z0-9])",
        "NRAK-" + fake(UPPER_ALNUM, 27, "newrelic-key"),
    ),
    TokenFormat(
        "sentry-auth-token",
        "Sentry",
        ("sntrys_", "sntryu_"),
        r"(?:sntrys_[A-Za-z0-9+/=_]{50,}|sntryu_[a-f0-9]{64})",
        "sntrys_" + "eyJ" + fake(BASE64, 120, "sentry-auth-token"),
    ),
    TokenFormat(
        "grafana-token",
        "Grafana",
        ("glc_", "glsa_"),
        r"(?:glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
        "glsa_" + fake(ALNUM, 32, "grafana-1") + "_" + fake(HEX, 8, "grafana-2"),
    ),
    TokenFormat(
        "dynatrace-token",
        "Dynatrace",
        ("dt0c01.",),
        r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}",
        "dt0c01." + fake(UPPER_ALNUM, 24, "dynatrace-1") + "." + fake(UPPER_ALNUM, 64, "dt-2"),
    ),
    TokenFormat(
        "honeycomb-api-key",
        "Honeycomb",
        ("hcaik_", "hcxik_", "hcamk_", "hcxmk_"),
        r"hc[ax][im]k_[a-z0-9]{20,}",
        "hcaik_" + fake(LOWER_ALNUM, 58, "honeycomb-api-key"),
    ),
    TokenFormat(
        "postman-api-key",
        "Postman",
        ("PMAK-",),
        r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",
        "PMAK-" + fake(HEX, 24, "postman-1") + "-" + fake(HEX, 34, "postman-2"),
    ),
    TokenFormat(
        "linear-api-key",
        "Linear",
        ("lin_api_",),
        r"lin_api_[A-Za-z0-9]{40}(?![A-Za-z0-9])",
        "lin_api_" + fake(ALNUM, 40, "linear-api-key"),
    ),
    TokenFormat(
        "notion-token",
        "Notion",
        ("ntn_", "secret_"),
        r"(?:ntn_[0-9]{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})(?![A-Za-z0-9])",
        "ntn_" + fake(DIGITS, 11, "notion-1") + fake(ALNUM, 35, "notion-2"),
    ),
    TokenFormat(
        "airtable-token",
        "Airtable",
        ("pat",),
        r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}(?![a-f0-9])",
        "pat" + fake(ALNUM, 14, "airtable-1") + "." + fake(HEX, 64, "airtable-2"),
    ),
    TokenFormat(
        "figma-token",
        "Figma",
        ("figd_",),
        r"figd_[A-Za-z0-9_\-]{40,}",
        "figd_" + fake(URL_SAFE, 40, "figma-token"),
    ),
    TokenFormat(
        "typeform-token",
        "Typeform",
        ("tfp_",),
        r"tfp_[A-Za-z0-9_\-=.]{59}",
        "tfp_" + fake(URL_SAFE, 59, "typeform-token"),
    ),
    TokenFormat(
        "mapbox-secret-token",
        "Mapbox",
        ("sk.eyJ",),
        r"sk\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+",
        "sk.eyJ" + fake(URL_SAFE, 60, "mapbox-1") + "." + fake(URL_SAFE, 22, "mapbox-2"),
    ),
    TokenFormat(
        "dropbox-token",
        "Dropbox",
        ("sl.",),
        r"sl\.[A-Za-z0-9_\-]{130,}",
        "sl." + fake(URL_SAFE, 140, "dropbox-token"),
    ),
    TokenFormat(
        "prefect-api-key",
        "Prefect",
        ("pnu_",),
        r"pnu_[A-Za-z0-9]{36}(?![A-Za-z0-9])",
        "pnu_" + fake(ALNUM, 36, "prefect-api-key"),
    ),
    TokenFormat(
        "readme-api-key",
        "ReadMe",
        ("rdme_",),
        r"rdme_[a-z0-9]{70}(?![a-z0-9])",
        "rdme_" + fake(LOWER_ALNUM, 70, "readme-api-key"),
    ),
    TokenFormat(
        "frameio-token",
        "Frame.io",
        ("fio-u-",),
        r"fio-u-[A-Za-z0-9_\-=]{64}",
        "fio-u-" + fake(URL_SAFE, 64, "frameio-token"),
    ),
    TokenFormat(
        "contentful-token",
        "Contentful",
        ("CFPAT-",),
        r"CFPAT-[A-Za-z0-9_\-]{43}",
        "CFPAT-" + fake(URL_SAFE, 43, "contentful-token"),
    ),
    TokenFormat(
        "launchdarkly-key",
        "LaunchDarkly",
        ("sdk-", "api-", "mob-"),
        r"(?:sdk|api|mob)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])",
        "sdk-" + "-".join(fake(HEX, n, f"ld-{n}-{i}") for i, n in enumerate((8, 4, 4, 4, 12))),
    ),
    TokenFormat(
        "onepassword-service-token",
        "1Password",
        ("ops_eyJ",),
        r"ops_eyJ[A-Za-z0-9+/=_\-]{100,}",
        "ops_eyJ" + fake(BASE64, 200, "onepassword-service-token"),
    ),
    TokenFormat(
        "onepassword-secret-key",
        "1Password",
        ("A3-",),
        r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}"
        r"-[A-Z0-9]{5}",
        "A3-" + "-".join(fake(UPPER_ALNUM, n, f"1p-{i}") for i, n in enumerate((6, 6, 5, 5, 5, 5))),
    ),
)
