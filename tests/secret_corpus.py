"""A corpus of secrets as they really occur, places secrets hide in structure, and ordinary
values that must survive: the oracle the redaction engine is judged by
(tests/test_secret_corpus.py runs it through every interface).

Written from the shapes real credentials take (each provider's prefix, length and alphabet,
and the text they sit in: connection strings, headers, command lines, config files, logs,
URLs, reprs), not from the library's rules.

Every credential here is a fake made up for this file, with a random body; none is real.
Prefixed tokens are built by concatenation ("ghp_" + body), so no complete token sits in
the source as one literal.

- ``SECRETS``: ``SecretCase(fmt, text, material, key)``. ``text`` is the value as a user would
  pass it, ``material`` the parts of it that must never reach the file (the random body of a
  token, not its fixed public prefix), ``key`` the plain dict key or argument name it is
  passed under.
- ``STRUCTURED``: ``(name, value_or_factory, material)``. A callable is called for a fresh
  value; a ``Kwargs`` value is passed as keyword arguments, each under its own name.
- ``ORDINARY``: ``(key, value)`` pairs an agent framework's inputs and metadata really hold;
  they must come back unchanged.
"""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any


@dataclass(frozen=True)
class SecretCase:
    fmt: str
    text: str
    material: tuple[str, ...]
    key: str = "value"


class Kwargs(dict[str, Any]):
    """Keyword arguments: each item is passed under its own name (as a function's argument,
    as a top-level key of inputs and metadata)."""


def _armor(label: str, body: str, width: int = 64) -> str:
    lines = "\n".join(body[i : i + width] for i in range(0, len(body), width))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def _armored_material(body: str, fixed: int = 0, width: int = 64) -> tuple[str, ...]:
    """The lines of an armored body, as they appear in the text: the first one without its
    ``fixed`` characters of standard (non-secret) DER or format header."""
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return tuple(line for line in (lines[0][fixed:], *lines[1:]) if line)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# == cloud: AWS ==============================================================================

AWS_KEY_ID = "AKIA" + "CATAGDYBLHCQRIQX"
AWS_KEY_ID_CI = "AKIA" + "VORWVAJDMLXUVV3D"
AWS_KEY_ID_SIGV4 = "AKIA" + "5DZ3BA2V7KCVICMI"
AWS_KEY_ID_PRESIGN = "AKIA" + "VFNQYLFZEYGVSG6C"
AWS_TEMP_KEY_ID = "ASIA" + "K365VM6G7TGTDMWJ"
AWS_TEMP_KEY_ID_STS = "ASIA" + "V33NMYFUE6OTNOSB"
AWS_SECRET = "R10Y9H2e0WbLfvdNTW7qgHICd3iFITNaziyllfeX"
AWS_SECRET_CI = "fwERRKylm2MA+ap+8SznHWn+D5Qb1zjRlS+d8rTs"
AWS_SECRET_ENV = "kmL4BpQ57cUUfGVdH4d9X2ATg/yX+FeanVsuyMW9"
AWS_SECRET_STS = "ZfwKm/xoHAZhOwjl0PQ/pKW/5fxu4eOUPK08Faow"
AWS_SESSION_BODY = (
    "woojNToOm57qJ1jqp1OZEarAqss4i+5XmPsPobx06dz81do/b21ewgR3TM911ij8"
    "czDiE1B7vpUIRdzoqV3M7H77+SidvrBxauSoPPPAoFa2EmrVt5Y/t+hInB9mHqEC"
    "eVE7+7CcAX7CH7VgVbNXUd6BG62Fl094dZ5+npBfnsImPa0oVq+2dnXpnfezyHy5"
    "eWdkfbpGQSlFjH9GeZECkHKcmK9efQWHZCPvzzQMOQm4v6I827vE7cohxosgT9fY"
    "3QPTMdJ0YP8XafxRN6kz7fuQc7/IZYnukE9qpg+6UDlsV+RbzbX2umzlL0wBkqzO"
    "y7eAa7QD2fPyKbw5ZofutRo5Yp/NG386XtpOxaz8Sqont4llKl43"
) + "="
AWS_SESSION_TOKEN = "IQoJb3JpZ2luX2Vj" + AWS_SESSION_BODY
AWS_SESSION_BODY_STS = (
    "EvHskwkj4q/cyQSCL+72sbDDcE9V/CQWL2xJOXJkbiqAtVXFRmoxuw8yeATHzXTl"
    "k7uYmruarNMw1ROVZX7akNcHP1aNXDwIHeIQKCsAzHZbHVdwNP+5+z1Ru7k1NGlc"
    "KTfecJkXb7IYdD3gMPVK65mp4BpGeIDjsYYPyiEv8MwXKmXDkbzAclXjh4q1zAmz"
    "uV6754JWOqsEzRznkH5BzNvidT7G1Sw0EP4fFJ20PwqbNe5Ba7ah09/D3Nh1Jtc5"
    "tgny48/OChyZVihezH6CnE7cvQVHFmTffkoPMeEow2uOmnW+BMZ12IuXcZE7oypE"
    "lJWCU/aYBVJNc/QcNQnSky+i1KYeIGSuMmer5sqP1h8wSvnJBR3a"
) + "="
AWS_SESSION_TOKEN_STS = "IQoJb3JpZ2luX2Vj" + AWS_SESSION_BODY_STS
AWS_SIGNATURE = "58a960bc93930e564d49f5cd87626cbb46454d69d652d474cd7680022ae1ddef"
AWS_PRESIGN_SIGNATURE = "c36efd8b9e2779bb79690f073d89637b0185a0c0eac4329cd9062ff1c1ba5d42"

# == cloud: Google ===========================================================================

GCP_API_KEY_ENV = "AIza" + "VaJU6OKvZF3qrAKMs5ul1-ZzhCDTMAjloRA"
GCP_API_KEY_URL = "AIza" + "nPwDyGSdg2m4YMynRhmH35LT5D_GLk2orEK"
GCP_API_KEY_HEADER = "AIza" + "tMmC1iTepKeZAwOf-SDIyKvKHFTZLMsyRKm"
GCP_API_KEY_FIREBASE = "AIza" + "zrBoCutmXl-iz9aVRSQqj17vUA-cOAEoprB"
GOOGLE_ACCESS_TOKEN = "ya29.a0" + (
    "cDD9l55jlWlJgebGXjCuKBIvGWTD41fwIgk3GPZZTXpx14QpuNJu1l1D0IWd7Kdu"
    "Lwg0TDCX2GvrKik_rgXKSmrh4jX5BbG8BO4tEU7Ig1kxrZlUaMlgo62mD9J8bJNr"
    "99zlqY5xp4E2vXcIXSxOJKyp-ZQ_FhKeRui5HAQI2zae3rS3I_z5MZZ7MpPcj_-m"
    "PgRIIaFaXN-dtlLvyULH"
)
GOOGLE_ACCESS_TOKEN_JSON = "ya29.a0" + (
    "9aiLHSUyZN_tCNLfaflrurjRON3NHwq7kIQYcDuL9SccSLNqB-NLEImP_jpOC0Nx"
    "6wO8qtywXgXL-QQ-Cx4TQuBspQw8xd8twqntXbQ2bgo16B8TqtQ6y8TH1vKe-u_r"
    "oI3h2bQ9dTBxb9Ud10JQo9D6flt4s7HrcpS1PfqfzN6TSyigb4m_nB0AF0RAhyv8"
    "xC9o5CK4Bb9mVxoNAUfy"
)
GOOGLE_CLIENT_SECRET_JSON = "GOCSPX-" + "fPqP_b8kPfl-K5SYIHuKM3_SkzXR"
GOOGLE_CLIENT_SECRET_ENV = "GOCSPX-" + "lR7LCXhfxRe22-G6OrVFz2ZyY_5i"
GOOGLE_CLIENT_SECRET_FORM = "GOCSPX-" + "INW8VOg0_7-nBthi77BOizZZaHaz"
GOOGLE_REFRESH_TOKEN = "1//0g" + (
    "60OrudNIfJ_mv8Dy6QL331bl7MoMdcuvhDuvGDexnRplwzhwloSm6pKFO3oS_REW"
    "RNmjKiLIIwzKDVV108RHZMLppgDce2dUCK"
)
GCP_SA_KEY_ID = "400be53de0059fabd9a60410d0e447b133d4a00d"
GCP_SA_HEAD = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ"
GCP_SA_BODY = (
    GCP_SA_HEAD
    + (
        "DpNZkw11KGAZ3lYjOH5THjd0iaIqzz/vqsyDZ677eNROrn4wWut151dhDE0QRiZA"
        "cENxrjKbmHg099Kvn58OWeeGWjVBt7kv/JKrjp4z1OEZMs1gd6Zp3YRpln7TL7DQ"
        "H2drnzEoZ+mohYJqkRCvc9yq+2YKWb1ibwpZsKSS6wn7DsQXMtIyVMswvpoJHyln"
        "7ZHeDBfgvCZwBZXmUbwodTg3eLM7AS1D9HTcyGt4LkAm86bdSl0TS0gVPVKFNBpv"
        "ZjeQo4NsY8b3KiMiCfOd5gQdAD5CTkR3B80cwOj8r7sRa5R4ICgHVQOehKobyKu3"
        "rfyi1vlY7Mb9Sbeko0cToyQyBeKWAHXCfES26Ub6KUP0ET0c1bM7TJcv+gzn1yQT"
        "S/DYvPiByhMiHvHRFCrsKg5ORxKVbRXGLYyku5YZMz9yx4Z+OazyKwnI4bZ+InXR"
        "H+9HDzqrhWPthcFqehR0dZVYDivU+Z+URXL9Dj7dnITse++cnUpdEPd0MORZjlSE"
        "CVFOSsdKNguyRtPvtEmgP1yuTnIbumjiwPRBJ2Nf3N5/SOYnKAlLJntTJwLGRZa0"
        "or32Rtasv7fURsCc4yHSixgNeqT7AexLQtBmnUbrw+zqu300DPOHehanFMIOfkrB"
        "B49n1q3zNz3UBxzw2hpNvVD0ebEM26APYkQtEyOEZEIhF6tqwjAiU//KXBocBiyO"
        "yZSYsKZRoavGTxAuiXoFStdtE0fV7Bw++8dH04JU7sSa3tVUfk7wkcxBdiwD2GLJ"
        "Yq6jF46pluZc1xNW98u2rXJWrGqN6+qddgjd61XgQABlDPtOQge1lrkKuNtd4hlK"
        "bGy5ETMFb/gGNfAtXz3hUTd8RMwfNzWM4WrQ+wLfqPNNTjs7plcoVe9uOy5WDQps"
        "YShVQUuYS3ThX3CIfxJQKJ0DZMV7Lleq3mCXe/C/Fg4+lkbfeNz4f79jLyDgPg+P"
        "miA7KmF1wD2e1wWhluExo0KMVolYXIc1P22ur5/eTV6QLd7047UjDy3w2WCn1iLR"
        "3bLfYmgj2yqzX2kG8/fp+sqOqZEbgjdiGZiC939CqBIT7ikeJk6XipcSOpj3B0S/"
        "jbgbQkqnhW4+HIz07KjxZMmua+qLyv4R6USkNp9rdivxbpfSO0VH8OoHRrQuu+gq"
        "Dd2XuPZIpilhGpqGFT6ACnNkwlnstEge+9K9k1fGFHuFlShHrG9YKct6UtkRpfWU"
        "hfmA+6ja0U3ESzYFt5OdOaSOYqjtO2V3aHAJWICx8ucERWEUwNJ5+c14rmNr7ULV"
        "fHmbjKy7b8M43Nc2zFaO38lqEqbNP+2eCFzCotpf2vPvVKXkei6UkgbWGCzisgiR"
        "VXOOjYSR1cQKxviqgOUwIwIk4kbChtyrAKMg4G0xzwHc5vRRc9o0Nx0hh3HU8cSE"
        "qL59PNLlQ495sSnAWscJCh3pZN582FbteIvvGB1hUZr0JqZmbQHfDYntyQZFgCXf"
        "JB72hc/o7CCk3hLpf5cPm7QilnukFxO1w9EDsw72WzqLW+KIYjWUeGP6U9EufYuM"
        "+KJhrchBPigCgc/+Biqj8gHvoO5M+ZZOay3P"
    )
    + "="
)
GCP_SA_MATERIAL = (GCP_SA_KEY_ID, *_armored_material(GCP_SA_BODY, len(GCP_SA_HEAD)))
GCP_SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "acme-analytics-prod",
    "private_key_id": GCP_SA_KEY_ID,
    "private_key": _armor("PRIVATE KEY", GCP_SA_BODY),
    "client_email": "etl-runner@acme-analytics-prod.iam.gserviceaccount.com",
    "client_id": "104729384756102938475",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": "https://oauth2.googleapis.com/token",
    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
    "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
    "etl-runner%40acme-analytics-prod.iam.gserviceaccount.com",
    "universe_domain": "googleapis.com",
}
FCM_SERVER_KEY = (
    "AAAA"
    + "N3IBvsH"
    + ":APA91b"
    + (
        "R9QHQ8IFkqJQL5Po1wEVgHvg_9ISftjTHqTaW_5Lo8ko7Wq_szFduXyKKJGoEqTw"
        "hU23fMYITqrco0k3tMmcSXP9jsxqbGNZ2pvngsC8LqxMMTbLXsSsF5SojMdSbtmM"
        "Tu4joq"
    )
)

# == cloud: Azure ============================================================================

AZURE_STORAGE_KEY = (
    "QJ3+lMTB+4zLSuRhQhrvD2uAfOySXPdh2GwXry8mqD+eAMStEoUX+SU8w4H+vzQx2OQzSCrGznPvC/p3/HfQ58"
) + "=="
AZURE_STORAGE_KEY_CLI = (
    "w2Xz4aC7TjNtrePqIXKGSfR4SeV2vJw7/k75KZfNGdMPS4EZvpeOElEmYug6qz5ruVt1A4sg5y/Kvyab1DzesO"
) + "=="
AZURE_COSMOS_KEY = (
    "WRRkOrc9tI+Jfa2vIEDXIJYpe4nYD0cvMwpBzHDGgYxB7K0isOoSCWAG7rsu91JbWCILCXQQkuI1w1t7uYgxwS"
) + "=="
AZURE_SERVICE_BUS_KEY = "TJ7NLShO+lbgCyE1WGLZ3T5FUIYFSOSqGkuvcs2F9cI" + "="
AZURE_SAS_SIG = "cS3svOCHlap" + "%2B" + "Zhs7edzZCf6w5lW5C" + "%2F" + "fS8x0DuvJmLo" + "%3D"
AZURE_SAS_SIG_AZCOPY = "yrQyQWBUx" + "%2F" + "eKXpig5QLvxV5qcgFWDI" + "%2B" + "Nlt9YpfDPea" + "%3D"
AZURE_AD_SECRET_ENV = "wyJ" + "8Q~" + "ron3TWoZc65EmTk9XI3jSiA8NpYkgFcSDh"
AZURE_AD_SECRET_CLI = "lJj" + "8Q~" + "e55wJ3HohKHsEGaWEUl5QmnszBooxVAjmN"
AZURE_DEVOPS_PAT = "dwupbscjdgkewfqzoeyorngbflbqbkogjyomtuewpudwidtawgwl"
AZURE_OPENAI_KEY = "6e44252549c1f41d458d8f74ea815945"
AZURE_FUNCTION_KEY_HEADER = "aumQSLqwbLYqUTmf07WFnGQ6qnrLYH1jfftwNmCkgiI0g5IFNwWW4R" + "=="
AZURE_FUNCTION_KEY_URL = "1j2BKhiPYYre8z2Z01agbnaq_FUj0I4N8lUOBacJAxIOSpqLVnJcHN" + "=="
APIM_SUBSCRIPTION_KEY = "de0c4c4c7bb47e7dfa06ed9302e03790"

# == payments ================================================================================

STRIPE_LIVE_PY = (
    "sk_live_"
    + "51"
    + (
        "RuGN0c8MjM7hYT55gUfvAMJeeS6uZ0ZPWR65BqFz6LvlhMeicxa7NupT7rg3f7rX"
        "uxAQ4L1GReFBUosm5ufEnW9ZoaFEcxVp2"
    )
)
STRIPE_LIVE_CURL = (
    "sk_live_"
    + "51"
    + (
        "fGEsKF3Uo6hWh8nb01tX5TtrwBohPH601bXR9H5W63QovIJavryGYLiGNVOYxrp5"
        "Ab3qMisabHILtUTmWosdR0rHAAUX6CDvC"
    )
)
STRIPE_LIVE_HEADER = (
    "sk_live_"
    + "51"
    + (
        "XeUrVGqlcR2bx7gHXzgPSfQi4EQlOvoUdW0G9zUAbwRxILbOz0j44S8DR7kzAIBM"
        "OzCjpTzOYNw9eTNq12p2nwcAIb5dpvXxA"
    )
)
STRIPE_LIVE_SHORT = "sk_live_" + "YNi4gT7LGFibrHrO1E8xa2Vr"
STRIPE_RESTRICTED = (
    "rk_live_"
    + "51"
    + (
        "zqzP4tmuKytTt3jeG6mXyg3TiUfSUDR2AIFtivfDAuSkzIw6t1Wv1ZkRQxEf8S3i"
        "FeBYgKKWoX9skjhn3pNx2F90EEZMe83s2"
    )
)
STRIPE_TEST = (
    "sk_test_"
    + "51"
    + (
        "SE7zwpM9oSbchaVppZIhNNksCvwgmokD9EnBbVyj2jCc3zJwWPTjQ61bIlHDOwFQ"
        "8tmUeervYyu9O0IY97VEu1mtqbVe5urw6"
    )
)
STRIPE_WEBHOOK_CLI = "whsec_" + "NpOCz2pmPTeyekwaMaqfBshPAf9GFo5i"
STRIPE_WEBHOOK_ENV = "whsec_" + "H3oDV75Y5VjcZp3lE4pglKJr4BWoqphv"
SQUARE_TOKEN = "sq0atp-" + "d-Mpw9BMkpBJsVJcwei7qX"
SQUARE_TOKEN_EAAA = "EAAA" + "LbpuSlKmsFrQHJfEwtBCEI4N4wmZTXZ5qYY3pWKBLPk5Dwzzqa1i9AU7Uzy6"
SQUARE_SECRET = "sq0csp-" + "hUNX7jFNBetfYuxiGKDv6zt7z45ZtvEISZxt5u-95CN"
SHOPIFY_TOKEN = "shpat_" + "f610da9f8c211d9d43b14b78a9309d58"
SHOPIFY_SECRET = "shpss_" + "be1520d0136209b05bb118e691aae1ef"
SHOPIFY_CUSTOM = "shpca_" + "5474da436f9d39ae4133419d6873709a"
BRAINTREE_SECRET = "pphbxwnfwfmmszjp" + "$" + "314d5f2c2e879592d04f2ef1bfe3a7d2"
BRAINTREE_TOKEN = "access_token$production$" + BRAINTREE_SECRET
PAYPAL_CLIENT_ID = "A" + (
    "qq8-0GJHtTBhDVw-ri9bv-_TH4hVdBpSeKeoFrHHxsZC6Pyq_FnVpGk24E2XLz1WAV0IDcCaaGNTV7C"
)
PAYPAL_SECRET = "E" + (
    "1UZsFBIqRe1t9BjMHiQpLRlQgDqjxANLUpKC4J-RfYxKIj_AgToy2jvypZGxFJCwaxh0KI61lph7Rat"
)
RAZORPAY_KEY_ID = "rzp_live_" + "6LaVmZZi5KjLgE"
RAZORPAY_SECRET = "ksuXAchicVpyNFdJw6KmqfTr"
FLUTTERWAVE_KEY = "FLWSECK-" + "b876154ec551075aad520658d784a95a" + "-X"
PLAID_SECRET = "573852d8c8733e0e9988503d88427f"

# == messaging ===============================================================================

SLACK_BOT = "xoxb-" + "1188967194381" + "-" + "8923017297044" + "-" + "odP30MYDYIR3NFpg1q1rWLVM"
SLACK_BOT_SDK = "xoxb-" + "2592471607605" + "-" + "3017877098410" + "-" + "GtqLk1y5vTsOEY3zhTVYCu01"
SLACK_BOT_LOG = "xoxb-" + "912249820001" + "-" + "7581099954185" + "-" + "JpVQx6hGgMQ3yNxraz1cxaLp"
SLACK_USER = (
    "xoxp-"
    + "768409631349"
    + "-"
    + "849118634475"
    + "-"
    + "3117386141689"
    + "-"
    + "5a44b2c0741c4261c00d8ac3d11b018b"
)
SLACK_APP = (
    "xapp-1-A"
    + "QGXIRG2GHQ"
    + "-"
    + "4400143688114"
    + "-"
    + "5cf5fb644d01edf14689ebbf09cd79b9fbd20a66b977f84b8b142b973dae17f8"
)
SLACK_REFRESH = "xoxe-1-" + (
    "KAkJKC2lX7SjDrdJ6n2rmODAEuvB3t7-Q0hNJQ_9gZaBJsVYF-hVUFRpRKLS23bE"
    "PX1rxino5K8bOC9kPh1TuUrH0OdCoMbN3EzQNA4_Nuxv7sVojfzVTERfMME9wf45"
    "ObzRjlcCDFG2TZlmWq"
)
SLACK_WEBHOOK_SECRET = "BYVcqV3NYCGGyvxaKEsdnBuy"
SLACK_WEBHOOK = "https://hooks.slack.com/services/T" + "TUHUNTORQO" + "/B" + "IISYSO1XNB" + "/"
SLACK_WEBHOOK_SECRET_CURL = "5zAew97HZaz8u6XGFDAZL1aj"
SLACK_WEBHOOK_CURL = "https://hooks.slack.com/services/T" + "F1YJW7GQ" + "/B" + "500T776RZ7" + "/"
DISCORD_WEBHOOK_SECRET = "hVCFL_W0J3_wC3A7wAlFkqPsEQ_eyC912sTRnH1VOmTQjaXuydEzYkGAOr2pWr8CBheO"
DISCORD_WEBHOOK_SECRET_LEGACY = (
    "4fHpHUy0MxOVMTMqhCU3PCVcRvRuTDiQcNg0bTaKox6gNp5jhgMAHwNkpzwWbXU_51rl"
)
DISCORD_BOT = (
    "MTE"
    + "31vJV9vuu_3qmYX24g-rw5W"
    + "."
    + "0IIlsS"
    + "."
    + "TYwxpA6XQimbukVW24GDxEpMjv12T9uQ3l6bgl"
)
TELEGRAM_SECRET_URL = "AA" + "rN78nV393gA5FZImJQrdfH2TcCQ8O2e5x"
TELEGRAM_SECRET_ENV = "AA" + "pHX4BLwk89W70JdZ34j-Cq6IpwIYC6RRv"
TELEGRAM_SECRET_CODE = "AA" + "uitfrzClpHjVsj6GybF-OpLf7KKMjF4HA"
TWILIO_API_KEY = "SK" + "eb3c4b86803ca59830e2cb13d237577c"
TWILIO_API_SECRET = "xsQueprkqW6rJ3o62FtlUPMEQyntrj3E"
TWILIO_ACCOUNT_SID = "AC" + "ed7d750c8cda695927b5f25ae1969ac7"
TWILIO_AUTH_TOKEN = "245ea1ddded2b4a253ce7a4365b7f75b"
SENDGRID_HEADER = (
    "SG." + "g5xF9lyEdAns19e6WZYJvE" + "." + "siPLi0UQQoM2p3MzUV7zEgfh-7c8IWvnO331LVqSywR"
)
SENDGRID_CODE = (
    "SG." + "46xi62Wdl9uNxaebQHnbM3" + "." + "0Z3qTy074GVQ4H943YJMuP9Tl0AI1g5iY4NldRZXVR6"
)
MAILGUN_KEY = "key-" + "ivmyhwxereshwgsmmbtclhqyrjotfjcb"
MAILCHIMP_KEY = "96d7933d20a073f3b723a8f5dacecc9f"
TEAMS_WEBHOOK_SECRET = "339cf55243ceb70c711d15cf4d21b308"
POWER_AUTOMATE_SIG = "iZZWgTp3PAZPBUw3aWA866KKaihnpr4REhZJAFEmbGs"
BREVO_KEY = (
    "xkeysib-"
    + "883e0f40c719a76870ace98a38bd4f8a64467c867c7f8e2db80454a30ed940c5"
    + "-"
    + "yCr4m7Z9yMFORIX0"
)
POSTMARK_TOKEN = "a4f0fccd-3e4e-4890-8c9b-5f8f8f736782"

# == source hosting ==========================================================================

GITHUB_CLASSIC_CLONE = "ghp_" + "lOGd27boZXVjIQmrNh81isHF31SPnRUKFvVD"
GITHUB_CLASSIC_HEADER = "ghp_" + "lrmF9Lve7Jqu6K3Wy7nB28vfbv8QVX6OZI3W"
GITHUB_CLASSIC_LOG = "ghp_" + "CRiboRfNmGGEq5XIJsnZpagwcXeLyTE4Awpk"
GITHUB_OAUTH_CREDENTIALS = "gho_" + "wTNeQeKQMeamZqRzEjhneNHqfcJJMdZi54RL"
GITHUB_OAUTH_HOSTS = "gho_" + "LvdYvfXiHnyj5k5JJY3J0Rd4GxyGsmuqUcad"
GITHUB_OAUTH_HELPER = "gho_" + "ONLMUmLZhgTfL2NbGgOsseRAQ899owGzXOOF"
GITHUB_USER_TO_SERVER = "ghu_" + "dBQd1kAvt4otaPaN1WQ7iU1hAkupexafaVl5"
GITHUB_USER_TO_SERVER_LOG = "ghu_" + "MnF9FfVzoQcFFfFgr5VMIORQDl4X9L8U1U3i"
GITHUB_REFRESH = "ghr_" + (
    "pixlSwNqrHS3Au0t2lcZyNm2PZOhEteAWKPLJD8q0FZrg9Mm9DCJsJ1tmUZKp5DKp39aPb7bmG5s"
)
GITHUB_INSTALLATION = "ghs_" + "gpHsEfIjoWj3mZbibL0swOxEAdZ09f1elFjR"
GITHUB_INSTALLATION_ACTIONS = "ghs_" + "znCONaajJtU4qzx1mWP7sA2zW0NrKK6sZBVL"
GITHUB_FINE_GRAINED_CURL = (
    "github_pat_11"
    + "B3V6EJTBC"
    + "0"
    + "T85KluYOC6Xi"
    + "_"
    + "6YUHaqMQEgxMovxgiguNVdR0NklCgzFu99NcrzS4EDStqJPYM2HFa4pnRXI"
)
GITHUB_FINE_GRAINED_ENV = (
    "github_pat_11"
    + "X7AA5476L"
    + "0"
    + "U4GB9nBfpPoU"
    + "_"
    + "N3MMq9dkY9Z6xJkEcHJaNlkQhgKfZn9l9yWlV1pi5NVOhnj3iM8qzVQ9PPB"
)
GITLAB_PAT_HEADER = "glpat-" + "GsaXOEsoJQNySmjkZ4hm"
GITLAB_PAT_URL = "glpat-" + "RYR3unIZVCd6kbjWMjPk"
GITLAB_RUNNER_CLI = "glrt-" + "qVHxez4iOs6Jz9EspCwn"
GITLAB_RUNNER_TOML = "glrt-t1_" + "GvaQlgh9QCQtfKwTum4y"
GITLAB_TRIGGER = "glptt-" + "739298d312bd81472421d3838e2752101573c23d"
GITLAB_DEPLOY = "gldt-" + "O2oe2Be_4gDt4u51V0-v"
BITBUCKET_APP_PASSWORD = "ATBB" + "cFt9HtKIg90G8MfKs6sqZOwR" + "E0B875CE"
ATLASSIAN_BODY = (
    (
        "EqcB_gymimxA642M4wUmcjWpc0nN7DqaBePICmmI4b_qP7iV5qS9xCTJLoU6qN7X"
        "W3Txz_ac8HlQOnI0bO9f_OFqz0TVvU4t0HPcFl2IByKS5g77IOlhd7D2MiFunrXC"
        "-wos-xDKm9jPw7ljy6GWvcKwPVfjc3bvxIELCGYuz9N0mX8pmQmlEQD"
    )
    + "="
    + "052CBFAF"
)
ATLASSIAN_TOKEN = "ATATT3xFfGF0" + ATLASSIAN_BODY

# == package registries ======================================================================

NPM_RC = "npm_" + "IxoPHulyysj0BsI9M4qhMCS1hYcCucDlDuL3"
NPM_PUBLISH = "npm_" + "mPJ6Tt2EtbbGlAmheB4CLll0Ltwxbr2KDgcz"
PYPI_PREFIX = "pypi-AgEIcHlwaS5vcmc"
PYPI_RC_BODY = (
    "apZIx6_qxaPb6WSYCcntQIjsOSUtvBkvUJJbwNlCrShu1HHSUO-qho-OU0FG6zrF"
    "7GEQTaVFWHcD8SOaoTdLI8ahZiRGLs5BQImIKYm1YdkFCIG3qoOTTD63OoJ9H8LS"
    "r2rXYfMdTnCcWVL94DP2GuGujeLsw9kR"
)
PYPI_TWINE_BODY = (
    "MfZ4Zxfgz2PDWugtSAry6Er5DFyRHnhBLRLdmGvTBGA7-vpXMPeQTRIl4c8PSnov"
    "l4Rnci1rBmUDQ6vKECSczMxeB7g8V0Tx31SKJ1FgSAb92J_woJIhFehB6LVRe3Q3"
    "Ie2HWFjDwtFd4CSgKuJAK_Yj3A_tGdK9"
)
PYPI_UV_BODY = (
    "wGXBouiecNnfPyFFObz6ZfbWZZLDXptxG6poOF5sL4u9CP-5maC8FyAjG8AwNFD9"
    "b2VttmLpkdLjBSGagz2oNwPg4-LAJYhXRQk2i5HGCdBiNXC6Q2diLpVbLbcjYZjD"
    "kuI0hPRApPLu6HPnqHV-BPB5WoR3pwaf"
)
RUBYGEMS_CREDENTIALS = "rubygems_" + "faa1ad2cc6fd9f491db85bbd53ba6795ad90299f04e05d48"
RUBYGEMS_ENV = "rubygems_" + "c564aa0d1cbf6f5138bf9539d6c563feecc4535d527aea2a"
DOCKER_PAT_LOGIN = "dckr_pat_" + "If0nsUOCxFwmUmc3EOzy08peAvr"
DOCKER_PAT_STDIN = "dckr_pat_" + "j8jQ6umQFDyG81N-3XczA-U88RW"
DOCKER_PAT_CONFIG = "dckr_pat_" + "krVaZ8TtczpcbCzstrbZVZrVSgv"
DOCKER_CONFIG_AUTH = _b64("acmebot:" + DOCKER_PAT_CONFIG)
NUGET_KEY = "oy2" + "ncdbhsshbtrmtikqyyowjgqlowljiavwosvtcbivrdd"
NUGET_FEED_PASSWORD = "Nu-Get!feed-" + "iNZ4lQQH"
JFROG_KEY = "AKCp" + ("eXil0OSWdcllIxdc0dC2DAuWPzcAj8F2Wtnrya7S9QAfxe4A3FlM9yHs2pAXCsKZ5oBhQ")
CRATES_TOKEN = "cio" + "PXb0DTwIW4HZHk2pSH5aHJwNu3Fv4gKk"
MAVEN_PASSWORD = "Mvn-" + "88advra6uY5B"

# == AI providers ============================================================================

ANTHROPIC_CURL_BODY = (
    "kh8V4XKI4lVSEsN8hfHGjTS2k8O7hwce_QSScJ9c729y8LyfnuH9cHP8OD3OIumj6FXi3iCZidZBLyQPwyxs7AIVhsyJt"
) + "AA"
ANTHROPIC_ENV_BODY = (
    "pU3adEXl6TL36qDQgBRUJgC6Ep_T309BKy4eUZUePgDqoJBvdQ__YX759v1Zg4VunRaMohZaQm198apUwxxH0Lq3pcJq5"
) + "AA"
ANTHROPIC_REPR_BODY = (
    "NFX7DYWjrM6fhuQX1OyxEt8at44U9Tzz4oRtbyodRKC828NxktENB_QLNKrM-tQm1tccqHXkiR2b-AtrsOqvazc99XvsT"
) + "AA"
ANTHROPIC_ADMIN_BODY = (
    "sIUzrChLJ6EOqSqS9TvZTDVYmn_HSFGJ34tQhzfZfkGU5h95kXMN6b_ih1RXJUBIMB2A8sMuDutFXw7ZE1oIENW19kN1X"
) + "AA"
ANTHROPIC_OAUTH_BODY = (
    "8GEeR2R7b-Fh94ECdpDOLG7yu4PjD9gd7_wunfDYEK_vmuiSvHC-JmpO7MavoAwTrd3YzhgI3iCgjEUJ1MXBk4qEm_QVy"
) + "AA"
OPENAI_PROJECT_HEADER = (
    "sk-proj-"
    + ("kpKMgUXgYEpat6ZcS2V9Md2cUxQOF0u6h9h6b0GsPrPEj8R0dF7LiGnqxdjdST8xgqR-tDvIdd")
    + "T3BlbkFJ"
    + ("grIN38ifArLZ-epORNFBUq6ROLt8ftb2_mNHCyf-UoIvGnp21Vmt7uvrrlBNZM-oavmnueMawh")
)
OPENAI_PROJECT_ENV = (
    "sk-proj-"
    + ("oSYhcwehwf7fUpONMgRBwAW6BDyiJ6Je1CbIa_MPm3L2IyhwGiIot3pOVTbmK2fuHoabQ4xJ1w")
    + "T3BlbkFJ"
    + ("OAOIxLb-vv02tO0B8TmSiy8h2gBxFIYkjwacGXJzm_Ue_8AFPb-HrbtzQTrHDFVoRq71-iocz2")
)
OPENAI_PROJECT_CODE = (
    "sk-proj-"
    + ("xN1JcXV029zj_f65_bkGaIeyr6gF0yHJwryuw-0Fxc8or_UY6gt6KaE8piQOY2oza0yqTKiF1a")
    + "T3BlbkFJ"
    + ("p_xBMQ8k9qxp5ZcHKQXRLDPFebCKUFe7AXQidOY7d7TOCeUrfbhYlF1sDf5bfPfukac-oYD1mr")
)
OPENAI_LEGACY = "sk-" + "jZfxx6oj9YM5hpBFOW2z" + "T3BlbkFJ" + "FV83RiAhekhMUbklMlmW"
OPENAI_SERVICE_ACCOUNT = (
    "sk-svcacct-"
    + ("xpDRUSBHztCJX-FzxPt6BkXRHJU_WQLpgxFueVlG6rCKqbh5F76_IDzOJPPQiATsx7pf9XPDIq")
    + "T3BlbkFJ"
    + ("OOBlVfpqLdDeGisgNL3Buo4CWjWmM3wh58pGMIo6oJ3Lj1XEX1oofXFiMXLT8gzggjoIR315XW")
)
OPENROUTER_KEY = "sk-or-v1-" + "869d9c63b34e390f7473a1d148d9269601238c0cf52678649540168d5115f6a0"
DEEPSEEK_KEY = "sk-" + "b78078d2b32b7217382abd0c13a193d3"
HF_LOGIN = "hf_" + "LqSELIgIPWdbCoxURYrMWoopdNVupitHpG"
HF_CLONE = "hf_" + "qtZSWGFpdkbVpAVwVaWhaiJKfXlxMyqjck"
HF_ENV = "hf_" + "nSwZsncHKpxueYpbyLtduUDRuhvkZgbHfH"
GROQ_KEY = "gsk_" + "8DgaFA3jDBhUJiKpKgKLAyI7Sf1gJqlYVOh3kPgZlLaIA3AkEu0l"
GROQ_KEY_ENV = "gsk_" + "2YRjXSjiHjjAnJRSNTNzdRMyVHPchwiyzy7W8qWjoRCFrYfn5BuB"
REPLICATE_TOKEN = "r8_" + "Q9DutZNHIncWjUQoSXNtJbBLaXTyiUpsOow0H"
REPLICATE_TOKEN_ENV = "r8_" + "YfO62oUwiCrG7tj6pcmswyMPfDArBvnh50sQ3"
PERPLEXITY_KEY = "pplx-" + "2lOsFUUKZvLe19pv2uSIkpiZP0OziXQQd2k8QZOyPSZBCUKZ"
XAI_KEY = "xai-" + (
    "HtQxoHn3lHsWcXIQb87eXP4P0vdaI8kmKPZXi1eukM2SB8fipmnhV7EBcWLIG8c7Y7Kl8gCUkCZqufFm"
)
LANGSMITH_KEY = "lsv2_pt_" + "e3618bc1fac1f45ac26e47b1a20c0634" + "_" + "600d73bfff"
LANGSMITH_SERVICE_KEY = "lsv2_sk_" + "6ed8d641172af7acddc0a80dd2729d6e" + "_" + "ffdd4ab32b"
LANGFUSE_SECRET_CODE = "sk-lf-" + "859b08aa-fe9e-4b5e-932e-3943fd46176a"
LANGFUSE_SECRET_ENV = "sk-lf-" + "9a6c0fd4-8df1-4aae-af80-946b086e5c4f"
PINECONE_KEY = (
    "pcsk_" + "WfA1rO" + "_" + "Q2Ls65smnk3ucNQrvvhEoqpn0gv2UCkMNIxMQ8ovrQBwPy1e6WB6ObZd1F4yMw5P"
)
TAVILY_KEY = "tvly-" + "PulxW964oYgiPaq05K1wXvahYF5c4NA7"
ELEVENLABS_KEY = "sk_" + "498222b94c5d2fefc567be693ca4fbf67672824906cbae12"
WANDB_KEY = "5936dd65b3fd6fc822ee9e67f30cae4a0b5ffb09"

# == observability ===========================================================================

DATADOG_API_KEY_ENV = "9a86af97c24cdb6e55cc8b062d6327f6"
DATADOG_API_KEY_CURL = "c1712ffc1dacf264efb962f6c5902a84"
DATADOG_APP_KEY_CURL = "eb2de802b7b45466d1a64936f38b33fc2bf4879b"
DATADOG_API_KEY_YAML = "92bb95c6858eae37342a1453c007ac1f"
NEW_RELIC_USER_KEY = "NRAK-" + "47KEKXYTRONPPSR3E0J6FIDQRYE"
NEW_RELIC_LICENSE = "870d1d75d95d8a33490b39edbb4b377de75d" + "NRAL"
SENTRY_ORG_TOKEN_SECRET = "16pb-K9jhQlr7YZUrlDDF-pR0ntKmrCas2O0c8zWXt1"
SENTRY_ORG_TOKEN = (
    "sntrys_"
    + _b64('{"iat":1767225600.0,"url":"https://sentry.io","region_url":"https://us.sentry.io"}')
    + "_"
    + SENTRY_ORG_TOKEN_SECRET
)
SENTRY_USER_TOKEN = "sntryu_" + "de00f86d08df28fa8ae996f5564e8d37339fce3457232b75ed3635a7100e2efd"
SENTRY_DSN_KEY_ENV = "8fe06ca5bbc1e630b06b6e0709b444da"
SENTRY_DSN_KEY_CODE = "e255260934bd595091c6d84437166d98"
GRAFANA_SA_TOKEN = "glsa_" + "w7gPA8IXaS7mv7UZY5fvQCWCJ8X0KC0H" + "_" + "d3aed08f"
GRAFANA_CLOUD_SECRET = (
    "UH0vSbZXUa8kuhIkU8cS5Xl9Pd2H5WkwhrCVNi7m69V3LUJ6QjQcDzkc0t0p5Lpr"
    "miBwKOGENzRzshOFIIwxyIU8VPegRn5KhzPw74hCnDFHdbuAEeIuZUF1"
)
GRAFANA_CLOUD_TOKEN = "glc_eyJvIjoiMTAyMzQ1NiIsIm4iOiJzdGFjay0" + GRAFANA_CLOUD_SECRET + "In19"
GRAFANA_OTLP_SECRET = (
    "a1EEzFUKQrfiDrADLJ9lkUT3qKIqb1aXkNJzZRyeWOFoYAYOO7b3Me5X5SPhI7ia"
    "4OWByFqktUtVbVPK0R16gG3muRsiaUX7eZs9ao3RnLj0omzCn8ngyNoQ"
)
GRAFANA_OTLP_BASIC = _b64(
    "1023456:glc_eyJvIjoiMTAyMzQ1NiIsIm4iOiJzdGFjay0" + GRAFANA_OTLP_SECRET + "In19"
)
DYNATRACE_SECRET = "LQUAAVLL3F5QOHUBN0QVJOC9O8E6ZFTJ2DE1FAIS5VRUI4V8OP42MZLCU08GWZ2Q"
DYNATRACE_TOKEN = "dt0c01." + "EBBSSZH8I465L0JDDQ9WMZQ7" + "." + DYNATRACE_SECRET
POSTMAN_KEY = "PMAK-" + "34b818efaf84da697b8e7cf2" + "-" + "0f5cdc685909df7b7f2cfcb68738f3869b"
SPLUNK_HEC_TOKEN = "8d645f0d-e58b-4c83-b258-21b0772fee96"
ELASTIC_API_KEY = _b64("I-PUd5bd_vhc_tY5Cncc" + ":" + "zX8d9fSoeK8Qd3WIss_0dt")
PAGERDUTY_KEY = "H9xRpKy3en4b4YzcpbYJ"
OPSGENIE_KEY = "0c84b211-29e7-4dcf-9851-7910fc552f56"

# == other SaaS ==============================================================================

LINEAR_KEY = "lin_api_" + "FrKiTuTj1LABo12kNPXrCOSHcaYoArVj5dyEx68v"
NOTION_TOKEN = "ntn_" + "17548872755" + "ivUmNaJZsZdFGCqqqFzr1advpksyAt2f1Lh"
NOTION_LEGACY = "secret_" + "RHHmMCC4npTxScxUcd8IJoesCU5esuM8ej7PLTmt6jH"
AIRTABLE_PAT = (
    "pat"
    + "292c7tScThmoij"
    + "."
    + "030219ebdfd585f6f5a95299cb2792045ff320b38137ba2cd588242b06daab72"
)
FIGMA_TOKEN = "figd_" + "OV2OZeiEGlqDQ-m8S3BU6WVK1IOzqXYPz6-bqOuY"
DIGITALOCEAN_TOKEN = "dop_v1_" + "e0e3e7ef39586291695378ecbb6a7e282378a8250bd066fe7e6b0fee9339c041"
DIGITALOCEAN_OAUTH = "doo_v1_" + "282d806a9f169865143870800c63f6b6d03d1fddacb6ff51c1f4d54c8d824509"
DATABRICKS_ENV = "dapi" + "545192d12c8392af2959752e1af68498"
DATABRICKS_CFG = "dapi" + "e04a3640a08200b84855719a36d73667"
DATABRICKS_JDBC = "dapi" + "6f22e2581393d91146933b60e426c1c5" + "-2"
VAULT_HEADER = "hvs.CAESI" + (
    "1BX6TtJGsPVX6UNOf9KfDYJ6QVcaWvvlshwjCIxhgQnliSe4mPs_y2eUAPwTL26SCuH26h6ZdmFKpnO2lfdosL"
)
VAULT_LOGIN = "hvs.CAESI" + (
    "UDwgps0H80DL1mEkKPMNTxmSgSxZ8KLApmKoUzdQ6c-gl9fQT4fqTTwq8GxlUIsa1_gL6v7xxfUGNDNu7wXe5r"
)
DOPPLER_PERSONAL = "dp.pt." + "eHxRMVKTGSSPtT53zkFq1eBBPvGDYcd6ehtXWOw8Fww"
DOPPLER_SERVICE = "dp.st.prd." + "2nW72OV5K8ARdn7P2D6fQfdlKjblhPvwAqBiBIBqeTf"
PULUMI_TOKEN = "pul-" + "78dc430b1986de4fa999486e55ab37fe83d3a289"
SUPABASE_TOKEN = "sbp_" + "8f8889a1f2389418845175a6a009bd349b916709"
PLANETSCALE_TOKEN = "pscale_tkn_" + "94hP7IMt9GvA_VsZHG_RfvnPkKr1-9kycEQqs036GC-"
PLANETSCALE_PASSWORD = "pscale_pw_" + "Lr6yxUUFYNDfd_9a3HYgBS8j6u2KVyGUIxtbASyGXUh"
AGE_KEY_BODY = "N2D9QFM06S3056UZLNL90GCHHS2WCJJZYSVPJP8QN9D7MVZTAK2KZ0045K"
AGE_PUBLIC = "age1" + "ibczirdthelhpeauamiqmtlbayuzkjtwgqrwiccfcayccarbmgfvmwxgsi"
TWITTER_BEARER_BODY = (
    "pFFt"
    + "AAAAAAAA"
    + "xPSEQ3"
    + "%2B"
    + "LhUZ2xsssybekNCiTeyz"
    + "%3D"
    + "YJRMueMVMZ8rfkclxfALCP5e5AQXEvQTzkPctuaJMV4SnKHvLC"
)
TWITTER_BEARER = "AAAAAAAAAAAAAAAAAAAAA" + TWITTER_BEARER_BODY
MAPBOX_PAYLOAD = "eyJ1IjoiYWNtZS1tYXBzIiwiYSI6I" + "vLjDNCYMQdWFcO9OXfmJCpH3hktQ" + "In0"
MAPBOX_SIGNATURE = "fsQVFIljcVCz2M4dDfZRow"
MAPBOX_TOKEN = "sk." + MAPBOX_PAYLOAD + "." + MAPBOX_SIGNATURE
OKTA_TOKEN = "00" + "WWHPhTj1oq3S25uXcRcxNjghWKIsBNvy_uKtuEGX"
HEROKU_KEY = "HRKU-AA" + "aczbQKLuZf1QnV8UgPzWLY1NFBjDRyK4KafJDxKHvSrwI3REfcktDXnLGC"
HEROKU_NETRC_PASSWORD = "1f30b43a-33bf-4722-a492-7190ddb0e482"
CLOUDFLARE_GLOBAL_KEY = "fc066e44c2e3ee94ab516ce93fe2cdccf1cad"
CLOUDFLARE_TOKEN = "o0ED1MAPEnNK5KKc0vFQVBBgtgG0m3bvvI1708do"
NETLIFY_TOKEN = "nfp_" + "IQ8YD90AvIbTGc11r1Gq7BRbx7CqHEVK6oP8"
FLY_TOKEN = "fo1_" + "9YPbgM3hlxpaWSuyd9G3jIXaTLISzH9Qosy4aaCVTMu"
RENDER_KEY = "rnd_" + "j8navHDTwlLl6x7x77qbX1AQZ2o8YDEU"
HUBSPOT_TOKEN = "pat-na1-" + "7b8ae033-e0ff-412b-8a04-c17a81662bfe"
CONTENTFUL_TOKEN = "CFPAT-" + "BSqfgLOvMaI1Ki92GulWsX27Y1VmH4l_1QW5LH594cP"
TERRAFORM_TOKEN = (
    "lUMusSO4vDqL7m"
    + ".atlasv1."
    + ("RQOkRTvsIbLPevun5uWeJSqdb6LxzcZMf5zOCFEDgKKZYg5bzxQmTzd7mpKWE9SUJyN")
)
SONAR_TOKEN = "squ_" + "6f8d9f722f55b8ef295ccb6d913a69e498ebf662"
BUILDKITE_TOKEN = "bkua_" + "f0eb7fba73e46e3d9ed8f7fbce68a20543aad8b5"
CIRCLECI_TOKEN = (
    "CCIPAT_" + "i5gBGIhZ3EmT12SBUysdOp" + "_" + "26ce756c903303969f064211e134f42c3645e17a"
)
TAILSCALE_KEY = "tskey-auth-" + "xW4v2YXkRkd" + "CNTRL-" + "8hEvdTtM8DdWTIrgdTCW3W9GLZFbWXjrQ"
NGROK_TOKEN = "16h332c4rMAuU6XK2Vgk2ypzcab" + "_" + "gE8eixRPX2ma9gZFPR9eU"
PREFECT_KEY = "pnu_" + "p5fSiXQzdmVn2hzmDNZKrdrN33SOQAc0YeyF"
NEON_KEY = "napi_" + "axbfvroqjyxoolhpcvzqvfhvyksmyspychcbundiipkdprmkbgnunzngklkqqpax"
RESEND_KEY = "re_" + "SqS32wF8" + "_" + "jeMimpaXFohtfJskb0cDnwGv"
SOURCEGRAPH_TOKEN = "sgp_" + "5e5f3415e2ea31e4" + "_" + "ba6c02eb2ddff6cb40e7bc16f2ceafd67328721e"
SHIPPO_TOKEN = "shippo_live_" + "fe61d63f71ceb8645211457a695a02611270b541"
DROPBOX_TOKEN = "sl.B" + (
    "Gx-LbYk8rqQa2Bo6JoYIDsMMjEZBvNUMj9-Z71KBgtEbni6cNDNgMesF4_9AkPY_"
    "tXjKE0aTrrfXHngHqjmmOpNiodBlxm9ZHWW6g_qH6CDXtelfjWos8cHDknR1O0sp"
    "M5u2yOUSlb"
)
ASANA_TOKEN = (
    "2/" + "7575748082863442" + "/" + "7669752361311239" + ":" + "c40f72508a3241e849dbcc2b70e88263"
)
ZENDESK_TOKEN = "NzKY4ofY2fBPgGI6DHcAupHgx6ABa2745Lw7La6W"
SALESFORCE_TOKEN = (
    "00D"
    + "xGtcz0GBsUwa"
    + "!"
    + (
        "E2GudB13p4rMj6YbnWhU3lNmPXrUTJfWveSvh8SeL3Lwdt8laJB42ktsEQs0D7Bp"
        "3VITLyy641QO4HGwQDRkaouilqYuSoYv"
    )
)
ALGOLIA_ADMIN_KEY = "e044bbb8745c237bf95b820835b9da85"
LAUNCHDARKLY_KEY = "sdk-" + "a91088e9-1681-4005-86e1-29835cb521c6"
ONEPASSWORD_TOKEN = "ops_eyJ" + (
    "A67GiG74EQ0zeSrr4QSyAstqvkiFe4IfnG5fDxRd_JKzcUHoh4SDy0k2DKq29sj0"
    "XP7MU0Q8_s60G2JHEXuXfsBQJHJ9HnJ40oElVbBAUUnU7KFOrRURGrhxiIL3z43Q"
    "lTi6R6bT-gnTLDWx6JTMSSavLv0NyZ22EgJLKv5A_PYitIZWj5_wGzswFZANz8bG"
    "DbEEFRVAcBTzOJDoMoLuCdVCa1hG"
)
FACEBOOK_TOKEN = "EAAB" + (
    "riZnRzOSNVBip2OHYvN1wszqwBiJJzU76l3pdIvcAnqffgxhkZgzDX00b4OTzhZQ"
    "8EYQylK75HZF3JZhso5ZWrtcQ3T33BbalgvgOo862ZobbazeHAYdSz7n2cISw17v"
    "hs8KRm3RERJzg0RSZNwTlJtMAPzim743DdpQ2yLmR04TOxqVfHcr"
)
OPENWEATHER_APPID = "877507abe3436020ab3e8eb5b23275df"
TOTP_SECRET = "GG323FE6VS3DDKJJCU2JNHXYWFPLD7XG"
GOOGLE_AUTH_CODE = "4/0A" + (
    "nvxrv7HSK8ExHAJemU9vaRuxfDC5Q3NvoBlY255EFO2KELP4azxczWQMBaU0arhR8HKn0oa"
)

# == JWTs ====================================================================================

JWT_RS256_HEADER = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjdmM2EifQ"
JWT_HS256_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
JWT_BEARER_REST = (
    "eyJ"
    + (
        "VSjuHkoi1u8Vy7FWrI7qBdb1a9o-gsYXaUJZERVseBchBzvfSM53n45I4c1zBigv"
        "l0iy9eU4bmW7cLCxNdW14CWf1kg-Gw7cDkSN_FzAw0i2kVuB6KFM1mTugbwcTW_w"
        "H0DqIdUVa9RlV"
    )
    + "."
    + (
        "V9Gq0TU90Rdi-lSx1xfc5IFpCsC0qXDSqHqiRu7LLwY28bAdtWs8cRxstYXkZE8L"
        "9NGh9uld5_Y-UzD712OtOoTmXVjRfQ6DscAyPuq6sKg1kcehtxjdUpN2rASe3z4n"
        "Hg-HLirc4zWSmyTZkDQvToLLqnL8vmcU0nSHVI9YYQLJLbEmUIlGFc_YkWqk-PC3"
        "z30csH9JuR8wxWhORtb-cTaGJ53LO_WT25KJNO8sOnJBajZpqut0H-e9aycnZYbK"
        "J3VL-VrzMc_SlBWZw8k8DQHLqj_reHutgaBSx5uOYSImnm9_dpzJezRiDTMkO4TK"
        "dc_7LmaQuIf31m66GWhC5w"
    )
)
JWT_COOKIE_REST = (
    "eyJ"
    + ("sILY6QHNLZ3KRW-idjUhYPfkjMlBUcivxpRmlHR2NsaXV9ajZR7HfUIsVkc7kY-qUGG-uSYWQu6l84T0S4gg5BoSk")
    + "."
    + "iP_SAjvJPVtaRVBffkWyRmNKaj8vTI6RlAXTSpU4ENK"
)
JWT_SUPABASE_REST = (
    "eyJ"
    + (
        "vUYQ3y_G6holwr11wB58duKbZ4Kf8Js7AN7uxscCGS3i6S-aV4F0NKDst0tosK1c"
        "DhuDbsMtD2JUbW2JRcBghA_ydk5wRBjXW0I34y0J6-CVIakBl2eENAAc_7rFgWNz"
        "f"
    )
    + "."
    + "QgCL53lkRmZwmKphGGBLMfBlCIBxIH1OdzIz1TiZyJn"
)
JWT_KUBE_REST = (
    "eyJ"
    + (
        "KkpKoZjNcctq6QOwMxI7D1HnX1UyO2RRhNuCTZr6MeupCg5wLpjIRSQPevnt83dd"
        "8ZMe4mhOSg_xjafVAw1yvkvOPU-2VWZ_MIOur6fCQcxa9xOCSYWMk5zzaBU9HFiS"
        "lSKlXrgeWFMTY7zvxOXl4lzztvW6-UEkyuUIOt3jG7WuMK2KeFw-W5zDvAwtHJMA"
        "TakUsSVfjEfzjkBC_lRZbL94m8Y5pH5e6Bq3V9MGX6Oxe1OUwuJdEklqUVaK36k3"
        "6Jy8"
    )
    + "."
    + (
        "-Fiw4JxKUpRgXs1nkepmMJJ6uyfl8lP-aj_Cg8lsPwJ4oSC6d3Zh9vvW5X4hO8qO"
        "ZAcY3I0AWNH8pn5Sf-xIex7iDClqwMFDE-7StPOJmivIYPGjKiDt9GAFKPoJTWuW"
        "9YS1UmIZ_xGRUFleHuoy-rHmu_UTkEUB339EtQq5iQUp3CCtmv5dRg297m9RiJ06"
        "mjWtv0WBypFnx92nJiMgRwGlI2cHzbgx703CYbe9hLwA4UG6UnNqEjnd3l5EVqg2"
        "QV0dokBLCkiHdTyac6EJR_d_S3vmIFZPhYs7vnVooRmFpJUFhfFXYhDsESP-EGdK"
        "bMZpO6hYT25pB7Cek-6giY"
    )
)
JWT_LOG_REST = (
    "eyJ"
    + (
        "ySC6wNcusXIoHRGx0_3h44g_uUIlAEj2siBUszfl6R01UUPdHcUH5N5XlxphZoBX"
        "qE32JaHwWL8xiNXYeKMXGzFYFmF1MQ6VcI0A17PsTAuTGn"
    )
    + "."
    + (
        "xX121mQ9DtvkkMHheSa32q67D57_Wib8bDJoJuSbg0p2p6mmAEz34SlFKjh5XKyp"
        "t2DZLCd40v5Hm6YSLgVU0SWC64udKkLu0IF1iWP0J3fl7QZ-yD4qdDIKEnogA9vB"
        "2JaeHBjGDoJvSdgzeWM8JRBczdXGcvVp6G5s3MaikyGUmwR9H7rfpesMZaIuN71C"
        "6eoSJR07P-m-p3oAh_eC3jENcqbzp9yNQpIN2ZnvSkejJTt92Ai3aAiBM5kMlI01"
        "r7yaB_xKDeVVDzKtSfLDt1rduQmCag28jYWgQRsy1-9gyf32_fkRbq454ETxLfxV"
        "uvqNyYYmcrdY6WiSSW4gVB"
    )
)
JWT_BEARER = JWT_RS256_HEADER + "." + JWT_BEARER_REST
JWT_COOKIE = JWT_HS256_HEADER + "." + JWT_COOKIE_REST
JWT_SUPABASE = JWT_HS256_HEADER + "." + JWT_SUPABASE_REST
JWT_KUBE = JWT_RS256_HEADER + "." + JWT_KUBE_REST
JWT_LOG = JWT_RS256_HEADER + "." + JWT_LOG_REST

# == private keys ============================================================================

RSA_HEAD = "MIIEowIBAAKCAQEA"
RSA_BODY = RSA_HEAD + (
    "D/ORz4fXD8LtmgHJiiWFleSzE3x8fE+UTxx0IuLRN3lrY4aE85QGUYfMMr1qWDDQ"
    "2cY+h8OKJD7qen7Met8hKJAkkyDYK4kSCp2RsNdhOuo7ExuS3eewd73Zx47ngSS8"
    "qhvJL6vQbfAUsI9MZoLCcwzN1RYSwQj8MQyk6Y/Z3TL0s9ssjAJk3umgF8HtwILh"
    "U7syxcSQ0un5sFlJO1xu+3KuSQrA8pGJ/DOn8oq/fGD98qxsZ/aPuhcVMKnRfY68"
    "dt6qa7BrnFjkeN6xe0ewhZdST7us0wy9ZmpJjIbK92GX6d723BSJdnpsdqThZCLy"
    "bK4Hg4JR1cIvebKpsHlrK0enFIJBlXRidbG1vijOxoi0h/0oI+K2T6woDk3wQeXK"
    "px0d4XL8UX8QA7IaxD8hB/gJ2bWb5XwMTwDQgyrH+0Mkpmms7lQtuYxXc1XvE9Ms"
    "Ie4KI5BFT0+BpNlB7ZbvFfFStLnizY6E2u268M3RBaDMPW2vapEZhNgqOOi5Ah4P"
    "cjqOBtKWg2a4Eov+r4s42/0fKy/tpM44yyCRGTtm6bZezB9i8+B0T0karSVhHDyQ"
    "hjT+ifiVZNxtKVYqVRUAimTF9U0rFDD5gMJHZcBG2aUo0pVfVi9m0F2zpgnXFOOP"
    "GAy+PhuXGsV8Rf+Zv5+xmUWsyYp3iRf0B/xyKsGFpYCTC8hZSF7ZJMLyIHCczFl8"
    "DXnEa49zwpd9AOclzEmj+bZkQUu/9eaHKjunYOcxv6SpWeIU3qT6wxDdEWsnHB0Q"
    "HjWAwAkHcdYTk6KYy/VCIr+qM/Kzk9sxIY1iUME+Eg3nvAa2Df3cEz5JrLhb4OSf"
    "jT92Tm+xCTpDIsWtW/0PQIxlzmFjbMtPTKDpgvgexVSN6LY1229io/2F8eqz7IfA"
    "8+ll8EygD8RarLdEfe0RKUWk/T8sYs6Bea8/a2Iw6ISyq6CtiPdmo0bYVmXX90uK"
    "R6Sk2o5eSnYvlzYkpGRKi4uIvG+0wbaxfzagRNWgOgdU8Lyu/RSdKhbWM+zpBK0w"
    "1BWDsOydQZkiSyfrWpd8RJcMnXq1sdL3EvJVRCngPltXgM9qeg1Rqs+d6G5Vtkg5"
    "RB4KJ8GcDEh/dILomMbVtxrIm4R1d0P26MkmpfAXSzgnlGeLNuLtG3McB9LhIE/Z"
    "UoAbcWYbyOnS8nnyGPliWOMu82Z2SalRFy4agtzgri2xuMBq7Ry6iRoBjuBnvIJx"
    "xPF0TU8V2pKu0SGPh797ii/UHRx20HlmvOahnkuPhbFMF1Bi+rZR9IAIy/rx9HFn"
    "wtikR22sMG08v8z0T9vwJ9zh38DsTlouSgeu6THC3P12VUSUA4Snr4GYoivIqZ0W"
    "lWaA9OWbqmwYjd7eMz/EZ923Dm2LnTHr1vEkGQDkelPDRJGAhgU8wNasT0pLEYTL"
    "ytsEpcAlJ/d11jZqV+BVKtSUKKVEs9CwtCorDvt/c3NkGEX3fHxVxjFQx4sF0xYa"
    "sgpJ6Aw29Js76yk6TYYHlwKLlK96aVmHXI6uFeDKknnAvshhyQuzk4xfoGCRMaGt"
    "ci79lgEgCXsctX3Id9BCTr6ogOmQen2xEOAK"
)
RSA_TRUNCATED_BODY = RSA_HEAD + (
    "Dv7YNnxqonQ2rSevgblapwfAc1N89hC0WHEcTYm9qsPnoz2cI8IdIsbnwwSEhTgM"
    "iIOvaWeIFF2yP1eEXWtzW+ErpFU4nWZbhj5jdlz/sISbYh6hCQKACXXIkkPyNtqc"
    "lifc0YecafvRtuCDxz4WFm2d8LSbxtxVE0eNXPYjVIgmj/e+TL73PVGvmFxDjFj7"
    "4A+QZaf2c7/VOA3mOSA8EAKkavsEGj2GbNERNSVd2mcT2qmMj+TkkGx/hmjnZWEG"
    "OfZ10NhngBqROjmFxuibLhMxBLlBdvknO0OiNi0djvVe5sStGKZtYJROp+J2PGQA"
    "1ik6o5Rg3fJ/hpCRLaWTaoW8UX2HuvrTBlo4G0dzIomjfCDNfScW7G8oJc2cGrkL"
    "HTOHIIfYyPzLtSf71JLAAbOJJvvl1W0fpei4FkvB3fGggh1c/SLZW1V0rOAA2oua"
    "mReUVb8mtT8HCZDm3OamOdNl0k4TU8PKQ+e4r/CTHp82f8QddIZms5MFYfzF5VHo"
    "EoKnGXvFv+R1WhoWa2g7IeTuBWOBhjuDuni17+rEDi8Pea3KVzyn3ZkYr2M2Uaf9"
    "oxTOHClSLhIi5kgP1TKIy6XKyxTLDyobKm9fa4hPIoMRehAKeHjJ0LXSATPS1yIV"
    "dSOuw3VudwI5wVxAZK8MkdgQasBlonBH4XrSoYRrxz1/l0Kr4Euh76Be4y29bgmw"
    "AxVBbc5XdsrtQEynoo4vSEPj2KqSJrbTukNHv2ehrnc5H4mmlQlJn3/DHCtkJE04"
    "BcGRO1HAbtjohDeJ2Zz1QGHX6ps18Ph71IRagEIfS+S5i0gn+7tONoo/p451LIjJ"
    "oovKxLdD4kMMXjsUXHsuHnx3u6DYkLXMHx0pzCtjs1QFTfgWqePiU2Z9fvGuFVVr"
    "oqhxG1iy/SUPTkJmzHCYNFRRP4ps6XgC1+myabSgADWGuG8eIRefye+LqcCicsGo"
    "DeUMv7ovugRj0jMMdU81msBUuZYYDOvA7xHblb8YRHtcKmww5O2mBMSnTGfvzfAK"
    "l2Ac4+Uh5FziUGUcxFdSk6NmZ1/UMT2oj4ldEQ1tYgyoU6QqaLdky2SQsh4BX2yA"
    "hdAmqP7xjF0V8/CYKfZF8PG2CoDepOHPx5B1fq/TcXgRBMZCrT63d0aiIj19m2qG"
    "AZsBShVbOKby6H/zXVtaIpr8X8nwwGfCuIMBgvUZwmylh3l7Dn5do/Sv3t0IH9/d"
    "JuMg/BVxgdlIO3eVaea3LZfjbje9OurP3fIZBhuaY49U810nYrHcii8QCJvIZHwW"
    "JpISRAu7tuSpm3DVrr75N9ytj5lckz83X5NwoNdWQnxBa1spK2tliKuXFdGNS0rw"
    "1JHCNGQ10Q0NJI10GxpqAyqKfMnS/PxFeZWRovxfPDgAcwCxVz2FxcoKsVgPTGRe"
    "VvELe/X1jUEWrJ3XIXNWqof9H3JlRDoNyne767QJUKLUkHO9ba5FcgohQ4NkIsq+"
    "rXfYaStV/m5KMqo3u1QloI9scMIcSHk+ezvqvl5tGGXPvbNlAIV9RVoyv9wV5ZfB"
    "LrjURH5sBzMHaobYNewocG0g6u9mjx2qFE3g"
)
EC_HEAD = "MHcCAQEEI"
EC_BODY = EC_HEAD + (
    "ksb3CSmY/ymGgmjqllhcbl5YYEDcW4tuKqp5fFdP+5QsbgKjK8i/iph6ynQFhdje"
    "A1jI6bhiRqrhgNQHdGSQauYiDoKml7htaFfqFsLTiJOhRcbDuOxUwgFXGiv3Vv2+"
    "NEv8kq5MZbUXJwJlrQFW/2CULBl"
)
EC_K8S_BODY = EC_HEAD + (
    "6LFOgKO6lzxisj6uEbtAyigTPXbJ/dh9B9ORwQ0EelL5+ORh41tEFSoX07Z8lrZl"
    "dOHNCaWD803SvjhXvp2Dlt+HQUXAsqH1VaWZkSb1a5Yi+DIHn9L4ams6EZpdsAti"
    "XH6rUCBb0P8u1RthT2aiGlt+zBj"
)
PKCS8_HEAD = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"
PKCS8_BODY = PKCS8_HEAD + (
    "NQVJJasM3JMJ4EcT+hcfwv4SHtbGQZrOCnmaroQEOmDN6mo+ZkQ7LjFXZWPIixEm"
    "dT1mJ8WpsiTCr3IIsy7x2Qw/lhoxcDuKrJjHinzAUHEmBV5/hNNSuewInuYJ7o+x"
    "DIqI16nX"
)
ENCRYPTED_HEAD = "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAc"
ENCRYPTED_BODY = ENCRYPTED_HEAD + (
    "bB5KVmXPNKjPr0OGr8OEm2RD1Y8Rj4xU2Q5R0bVw5rwlsW8f+wUOXijHdZTWTSgs"
    "Yixy6z8s0oZUdKX/nmSta9eE7hZMK2pCzAK+kQTRlo4FrZ37rAFQZEdA6XbOVJuH"
    "cwhGXSFCkVKkwX5tXNblhNFzdFnJU4oVAMT+NUjUy/EOSdcfFcEdfHAq6bdh0Fwp"
    "sdDkFzmYWMoAU/aW66aYuRmebpNCBscPPU+4JjDDHudtARQgxOehwOkp9TLJgXIx"
    "AKnDkup8xyTAXJu0"
)
OPENSSH_HEAD = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
OPENSSH_BODY = OPENSSH_HEAD + (
    "3pmi6ABQSejhQIv3W0xORuT32uB3Xmxhri0mpOfrRyt7b3wkebClBU2TTHHS+n8F"
    "C7GPUoWuoNP+ZYwNmIsyFXIh/7919L65jv4F+Ksbk2KpTkAQMZ+WaRZjwZp6jiMp"
    "YJqjBpczZqksYtpdfEQZ30hZJQx1uU5rV3wkI6jE+rxEnfCo5CSFJ+prWVqIcyc6"
    "yFFNw5KG4fyTMZ4QQlSXpG5i3NVwVS3RsYtHQEUe0X2ZBC1ot4bxI+yDMJcaA4tX"
    "73+nRPDh/iWqvctTwUh8tDNwPiia6IsKWoJ4c/axNc5TrFGymqGGOf3iSw2r5oJG"
    "JKI5mQRjZ"
)
OPENSSH_HEREDOC_BODY = OPENSSH_HEAD + (
    "Qvxnznzxos8mjk+AZ3IRsGR8VrRYYTRH3o8KgZ0sOnehJO7oDNLSgIiHGHRRxEhu"
    "YvzZLjVLPzwVh/cMrkMSPqCAPmcusrOltbLGjnzDR1YpqSQ74KoywnP2ftaf1C9F"
    "pyUJWEYjL+Q3xNlAsjJu0AhUz5SJHSuNoDEs6HwmMeqRkTeDQQbTEeBEwxIx9EY+"
    "MfBSzTdL0wMvcDSOhxCbycaqu+LvCPnZNULdHIfvMM3bgT+eT3D1/dPQTCntgO1d"
    "g7cmwcZE985L0B4LcsnhIL555atlyN2jrIQjX0m0ugKkM96fooLvXk5zWTR+Sajt"
    "Q/cH/bG1O"
)
PGP_BODY = "lFgE" + (
    "icKED594WbPsCNTWMDyiqlT+ssleP0RBXKJrYHOVhJq1uSazHyk5VQ4GYMbjLfhF"
    "n+kPqVrSWV2GB2BOJBuSYIMzeMY/qUr87a8a5CVsGxcjPw8FSHkmL+5Pgt1HkNaj"
    "UK9O9LFBky5OTPlHcbNybwp0QQKyBSvjoP/x7cISIdv5gz7rGulFQoJAKE+o9nyN"
    "mMpl6tx5FBtu4MktN9mNM0YrYIr1EZ7kLeh/662p8IQ7BOMsVxMv8LjwmYIIGsXo"
    "VBruToZiOvg8Ys90Q4yEh7d/XJIcYEhOjKyRd8F7PMvK5nSp/IBShZna1aw+hm7Z"
    "L1815hoUQfEViMS/SzOWDFRxyUPNXrrKhFx6WCVccvxghjhDaXJ8kI360SuAanEc"
    "SiSqhhwFpg8detMAVw7a+xx0BIeR+f9qqToV9z2FtEtvFy4NoaKK4tFIJmuLb7Zh"
    "RUYc"
)
PGP_CHECKSUM = "=" + "hOJ+"
PPK_PUBLIC = "AAAAC3NzaC1lZDI1NTE5AAAAI" + "Bk2wFWpxDu4GJc4GccM9D9AgV8VmHkN3jPXK9V6jozl"
PPK_PRIVATE = "AAAAI" + "pcJmFD3DFn7bHJbg+3PW9kQk11EeBC33d9PtHS8dpIh"
PPK_MAC = "ec1a43ae3605567d0cbc4b5ad3ee06b1e4087664fc274eaeabfa293adb4fa461"

PEM_RSA = _armor("RSA PRIVATE KEY", RSA_BODY)
PEM_EC = _armor("EC PRIVATE KEY", EC_BODY)
PEM_PKCS8 = _armor("PRIVATE KEY", PKCS8_BODY)
PEM_ENCRYPTED = _armor("ENCRYPTED PRIVATE KEY", ENCRYPTED_BODY)
OPENSSH_KEY = _armor("OPENSSH PRIVATE KEY", OPENSSH_BODY, width=70)
OPENSSH_HEREDOC_KEY = _armor("OPENSSH PRIVATE KEY", OPENSSH_HEREDOC_BODY, width=70)
PGP_KEY = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
    + "\n".join(PGP_BODY[i : i + 64] for i in range(0, len(PGP_BODY), 64))
    + f"\n{PGP_CHECKSUM}\n-----END PGP PRIVATE KEY BLOCK-----\n"
)
PUTTY_KEY = (
    "PuTTY-User-Key-File-3: ssh-ed25519\n"
    "Encryption: none\n"
    "Comment: eddsa-key-20260101\n"
    "Public-Lines: 2\n"
    f"{PPK_PUBLIC[:64]}\n{PPK_PUBLIC[64:]}\n"
    "Private-Lines: 1\n"
    f"{PPK_PRIVATE}\n"
    f"Private-MAC: {PPK_MAC}\n"
)
K8S_TLS_KEY_B64 = _b64(_armor("EC PRIVATE KEY", EC_K8S_BODY))

# == generic credentials =====================================================================

BEARER_OPAQUE = "JQ7_n7bSvd8eITPRwGY09wnUZ9Spbt9_KcGl0jhY"
BEARER_LOWER = "9cc55f4d0e6e2fbe12f5d8cbffd82f2b48ebc76d7be61ca01ff0da5c68508c5a"
BASIC_DEPLOY = _b64("deploy:Zt9kQ2mWx7-depl0y")
BASIC_PROXY = _b64("proxyuser:Pr0xy-" + "5rZSvh3OaCoc")
BASIC_GIT = _b64("ci-bot:" + "bbrKBvthSzgCRsLlbbkl")
DRF_TOKEN = "14cf0a53742a53b9d815109e8f65ad0bda7e2099"
DIGEST_RESPONSE = "408360f33c8282d0f298f4710b1a7f77"
OAUTH1_TOKEN = "9322944691" + "-" + "BUcxL5Gzivmn3sEB5dIXklV2AkG9a46wrdmH2qrB"
OAUTH1_SIGNATURE = "H3PANIcaqtas" + "%2F" + "DK5ReHyCACqc" + "%3D"
NEGOTIATE_BODY = (
    "YIIC"
    + (
        "eCbY0p0SSfM8LADcPL+vA3gjTQpF4b/fUz3jefWfWzsIpIwnIRrN/wFjyJAA/v9c"
        "0vjxt+2KuVGS137YabbnfJu8z0nvniYHhnKa4VVPXeIyVh48dH3LkBEfXZh5iiAB"
        "GewDslxdBTIYG/0jgs5aRjOA8vF9vBZHc1ixw0B2MsbPRIHS0mWx39W4x5osmdc8"
        "2dNrs9Y/"
    )
    + "=="
)
COOKIE_SESSIONID = "bkdmcikcdbvrrghkdzimlflkbflpwhfy"
COOKIE_CSRF = "1Mu74wZJGbToaOGX5DUl88v6x9W4odHlZyL5PZSRn6E3yQ7bOkwUOI6fCAnGNbeh"
COOKIE_GITLAB = "fd31ac223264f9c69d6f6bae76b3daa5"
COOKIE_REMEMBER = "wViZWi7_g7A9awx0LnDFMlf2p-momsR8_N59OtC0yqS1GXWe8t0fe9BWDXcN"
SET_COOKIE_SESSION = "NYsAc1kZA1ywy7I_6KIwhIwlF5He1_jOGITBwyFqlRZ"
CONNECT_SID = (
    "s%3A"
    + "Sm4KNN50VY3kN7BcGiGHngaw8NJjC53M"
    + "."
    + "Lrg-vgFGvdp7i3vgfT3hejfTwAJojAscXc360hHIe-y"
)
PHPSESSID = "caekadudonqbdlexfjjtncavzo"
WORDPRESS_COOKIE = (
    "admin%7C1767312000%7C"
    + "WuUXKqht7OgSAGIIk2xUJ8vxGfCXjhg5L6DTq5dm2Uc"
    + "%7C"
    + "b8b2e0603bc6c6b106a6d482e7ee45760f4deff41cce7427194caaf0b8978e1a"
)
JSESSIONID = "9C2CBC24449301A8C82031565F2C3ED9"
QUERY_TOKEN = "uNiJRFodD8o57oFgcpdetcdgRm0_kL1xSrNN0WSx"
QUERY_API_KEY = "X7vFK89KHbFOeRIzgI57l9F4PiygXFVC"
OAUTH_CLIENT_SECRET = "G8nXKLSsMy6jAFADaW7e5uZ78RU5i_8_KuppQUDn"
CLI_API_KEY = "gRdawwvTdzC0LKMX1UrysFG8xiG8Uham"
KUBECTL_TOKEN = "Zw_VTA-um-ot8aqJJV3YdhD-AYfkPBQkFu3aj7rf"
UPSTASH_PASSWORD = "0U08kKKusy9UVuL7W5seglNvArwxn4XBts"
PROSE_API_KEY = "e9h0g0qabpMA1zIYVJOGaafG4b7Nf6If"
X_API_KEY = "Eouvc010tnQEikmf0nJwKkI0JNaK86vxj6oN3zvP"
X_AUTH_TOKEN = "fcf0e0a71033fba3516df0de2d231a89"
RAPIDAPI_KEY = "b8781f3a3b2540fc00b990feae2e7597c1f896a6b0b31c7e0c"
DJANGO_SECRET = "django-insecure-" + "nQMc6we9ZxNU6UjfaUCc9vQOEYFtusUYKqs4yMJnrrdlsdLksv"
RAILS_SECRET = (
    "1f8b0417b6322f527b5c1cab68f67fc0f1b1ba2cdbe492881bf23d29cc8c2ef2"
    "28d97f8d0b9e170f4466302e3c678a11bc306ddcda5d747832d6c94b3a76acf5"
)
LARAVEL_KEY = "p8HBRKgUPgHw0MykI/570b34V18J79PsU7ZwIVBFhMG" + "="
FERNET_KEY = "enBOS3v0hg6uxG9EAmhw8HmHFvv5aopNpNga4mz2bmR" + "="
BCRYPT_HASH = "L747P4tAC1pc18rDQF2UaSvIZ1uAzDFLemVclYHJ7FsikuFf.FyQu"
GMAIL_APP_PASSWORD = "qdph" + " " + "eqjk" + " " + "dwuz" + " " + "wlax"
OPAQUE_REFRESH = "yiPZpJuiEjw_JmFPcFEUcT-7yL0eEr_XZjSTuTy_eKo4isIH48w5l_IDMUjtXkXW"
OPAQUE_ACCESS = "vgBj3tcTygAi5VFUxJnV2o7FQE1gvIteydpXHD3yF-q_2xZe"


# == the secret cases ========================================================================

SECRETS: list[SecretCase] = [
    # -- AWS ---------------------------------------------------------------------------------
    SecretCase(
        "aws-access-key-id",
        f"[default]\naws_access_key_id = {AWS_KEY_ID}\nregion = eu-west-1\n",
        (AWS_KEY_ID,),
        "config",
    ),
    SecretCase(
        "aws-access-key-id",
        f"2026-01-01T12:00:00Z INFO botocore: found credentials {AWS_KEY_ID_CI} in environment",
        (AWS_KEY_ID_CI,),
        "log",
    ),
    SecretCase(
        "aws-temporary-access-key-id",
        f"AWS_ACCESS_KEY_ID={AWS_TEMP_KEY_ID}",
        (AWS_TEMP_KEY_ID,),
        "line",
    ),
    SecretCase(
        "aws-secret-access-key", f"aws_secret_access_key = {AWS_SECRET}", (AWS_SECRET,), "line"
    ),
    SecretCase(
        "aws-secret-access-key",
        f"[ci]\naws_access_key_id = {AWS_KEY_ID_CI}\naws_secret_access_key = {AWS_SECRET_CI}\n",
        (AWS_KEY_ID_CI, AWS_SECRET_CI),
        "config",
    ),
    SecretCase(
        "aws-secret-access-key",
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET_ENV}",
        (AWS_SECRET_ENV,),
        "line",
    ),
    SecretCase(
        "aws-session-token", f"aws_session_token = {AWS_SESSION_TOKEN}", (AWS_SESSION_BODY,), "line"
    ),
    SecretCase(
        "aws-session-token",
        f"X-Amz-Security-Token: {AWS_SESSION_TOKEN}",
        (AWS_SESSION_BODY,),
        "header",
    ),
    SecretCase(
        "aws-sts-credentials",
        "aws sts assume-role -> "
        + json.dumps(
            {
                "Credentials": {
                    "AccessKeyId": AWS_TEMP_KEY_ID_STS,
                    "SecretAccessKey": AWS_SECRET_STS,
                    "SessionToken": AWS_SESSION_TOKEN_STS,
                    "Expiration": "2026-01-01T13:00:00Z",
                }
            }
        ),
        (AWS_TEMP_KEY_ID_STS, AWS_SECRET_STS, AWS_SESSION_BODY_STS),
        "log",
    ),
    SecretCase(
        "aws-sigv4-authorization",
        f"Authorization: AWS4-HMAC-SHA256 Credential={AWS_KEY_ID_SIGV4}/20260101/us-east-1/s3/"
        "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        f"Signature={AWS_SIGNATURE}",
        (AWS_KEY_ID_SIGV4, AWS_SIGNATURE),
        "header",
    ),
    SecretCase(
        "aws-presigned-url",
        "https://acme-exports.s3.amazonaws.com/reports/q4.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={AWS_KEY_ID_PRESIGN}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20260101T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={AWS_PRESIGN_SIGNATURE}",
        (AWS_KEY_ID_PRESIGN, AWS_PRESIGN_SIGNATURE),
        "url",
    ),
    # -- Google ------------------------------------------------------------------------------
    SecretCase("gcp-api-key", f"GOOGLE_API_KEY={GCP_API_KEY_ENV}", (GCP_API_KEY_ENV,), "line"),
    SecretCase(
        "gcp-api-key",
        "GET https://maps.googleapis.com/maps/api/geocode/json?address=10+Downing+St"
        f"&key={GCP_API_KEY_URL} -> 200 OK",
        (GCP_API_KEY_URL,),
        "log",
    ),
    SecretCase(
        "gcp-api-key",
        f"curl -H 'X-Goog-Api-Key: {GCP_API_KEY_HEADER}' "
        "https://generativelanguage.googleapis.com/v1beta/models",
        (GCP_API_KEY_HEADER,),
        "command",
    ),
    SecretCase(
        "gcp-api-key",
        f'const firebaseConfig = {{ apiKey: "{GCP_API_KEY_FIREBASE}", '
        'authDomain: "acme-app.firebaseapp.com", projectId: "acme-app" };',
        (GCP_API_KEY_FIREBASE,),
        "snippet",
    ),
    SecretCase(
        "google-oauth-access-token",
        f"Authorization: Bearer {GOOGLE_ACCESS_TOKEN}",
        (GOOGLE_ACCESS_TOKEN,),
        "header",
    ),
    SecretCase(
        "google-oauth-access-token",
        "token endpoint replied: "
        + json.dumps(
            {
                "access_token": GOOGLE_ACCESS_TOKEN_JSON,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/drive.readonly",
                "token_type": "Bearer",
            }
        ),
        (GOOGLE_ACCESS_TOKEN_JSON,),
        "log",
    ),
    SecretCase(
        "google-oauth-client-secret",
        json.dumps(
            {
                "installed": {
                    "client_id": "1234567890-k3j4h5g6f7d8s9a0.apps.googleusercontent.com",
                    "project_id": "acme-desktop",
                    "client_secret": GOOGLE_CLIENT_SECRET_JSON,
                    "redirect_uris": ["http://localhost"],
                }
            }
        ),
        (GOOGLE_CLIENT_SECRET_JSON,),
        "config",
    ),
    SecretCase(
        "google-oauth-client-secret",
        f"GOOGLE_CLIENT_SECRET={GOOGLE_CLIENT_SECRET_ENV}",
        (GOOGLE_CLIENT_SECRET_ENV,),
        "line",
    ),
    SecretCase(
        "google-oauth-refresh-token",
        f"grant_type=refresh_token&refresh_token={GOOGLE_REFRESH_TOKEN}"
        "&client_id=1234567890-k3j4h5g6f7d8s9a0.apps.googleusercontent.com"
        f"&client_secret={GOOGLE_CLIENT_SECRET_FORM}",
        (GOOGLE_REFRESH_TOKEN, GOOGLE_CLIENT_SECRET_FORM),
        "body",
    ),
    SecretCase(
        "google-oauth-authorization-code",
        f"GET /oauth/callback?state=af0ifjsldkj&code={GOOGLE_AUTH_CODE}"
        "&scope=email%20openid HTTP/1.1",
        (GOOGLE_AUTH_CODE,),
        "log",
    ),
    SecretCase(
        "gcp-service-account-json",
        json.dumps(GCP_SERVICE_ACCOUNT, indent=2),
        GCP_SA_MATERIAL,
        "config",
    ),
    SecretCase(
        "gcp-service-account-json",
        "loaded GOOGLE_CREDENTIALS from env: " + json.dumps(GCP_SERVICE_ACCOUNT),
        GCP_SA_MATERIAL,
        "log",
    ),
    SecretCase(
        "firebase-server-key", f"Authorization: key={FCM_SERVER_KEY}", (FCM_SERVER_KEY,), "header"
    ),
    # -- Azure -------------------------------------------------------------------------------
    SecretCase(
        "azure-storage-connection-string",
        "DefaultEndpointsProtocol=https;AccountName=acmeprodlogs;"
        f"AccountKey={AZURE_STORAGE_KEY};EndpointSuffix=core.windows.net",
        (AZURE_STORAGE_KEY,),
        "connection_string",
    ),
    SecretCase(
        "azure-storage-account-key",
        "az storage blob upload --account-name acmeprodlogs "
        f"--account-key {AZURE_STORAGE_KEY_CLI} --container-name backups --file db.bak",
        (AZURE_STORAGE_KEY_CLI,),
        "command",
    ),
    SecretCase(
        "azure-cosmos-connection-string",
        f"AccountEndpoint=https://acme-orders.documents.azure.com:443/;AccountKey={AZURE_COSMOS_KEY};",
        (AZURE_COSMOS_KEY,),
        "connection_string",
    ),
    SecretCase(
        "azure-service-bus-connection-string",
        "Endpoint=sb://acme-events.servicebus.windows.net/;"
        f"SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={AZURE_SERVICE_BUS_KEY}",
        (AZURE_SERVICE_BUS_KEY,),
        "connection_string",
    ),
    SecretCase(
        "azure-sas-url",
        "https://acmeprodlogs.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o"
        "&sp=r&se=2026-01-02T00:00:00Z&st=2026-01-01T00:00:00Z&spr=https"
        f"&sig={AZURE_SAS_SIG}",
        (AZURE_SAS_SIG,),
        "url",
    ),
    SecretCase(
        "azure-sas-url",
        'azcopy copy "https://acmefiles.file.core.windows.net/share/q4.xlsx?sv=2022-11-02'
        f'&ss=f&srt=o&sp=r&se=2026-02-01T00:00:00Z&sig={AZURE_SAS_SIG_AZCOPY}" ./q4.xlsx',
        (AZURE_SAS_SIG_AZCOPY,),
        "command",
    ),
    SecretCase(
        "azure-ad-client-secret",
        f"AZURE_CLIENT_SECRET={AZURE_AD_SECRET_ENV}",
        (AZURE_AD_SECRET_ENV,),
        "line",
    ),
    SecretCase(
        "azure-ad-client-secret",
        "az login --service-principal -u 4f8e2a1b-7c3d-4e5f-9a0b-1c2d3e4f5a6b "
        f"-p {AZURE_AD_SECRET_CLI} --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47",
        (AZURE_AD_SECRET_CLI,),
        "command",
    ),
    SecretCase(
        "azure-devops-pat",
        f"git clone https://build:{AZURE_DEVOPS_PAT}@dev.azure.com/acme/web/_git/web",
        (AZURE_DEVOPS_PAT,),
        "command",
    ),
    SecretCase(
        "azure-openai-key",
        "curl https://acme-openai.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
        f'?api-version=2024-06-01 -H "api-key: {AZURE_OPENAI_KEY}" -d @body.json',
        (AZURE_OPENAI_KEY,),
        "command",
    ),
    SecretCase(
        "azure-function-key",
        f"X-Functions-Key: {AZURE_FUNCTION_KEY_HEADER}",
        (AZURE_FUNCTION_KEY_HEADER,),
        "header",
    ),
    SecretCase(
        "azure-function-key",
        f"POST https://acme-ingest.azurewebsites.net/api/ingest?code={AZURE_FUNCTION_KEY_URL}"
        " failed: 502 Bad Gateway",
        (AZURE_FUNCTION_KEY_URL,),
        "log",
    ),
    SecretCase(
        "azure-apim-subscription-key",
        f"Ocp-Apim-Subscription-Key: {APIM_SUBSCRIPTION_KEY}",
        (APIM_SUBSCRIPTION_KEY,),
        "header",
    ),
    # -- payments ----------------------------------------------------------------------------
    SecretCase(
        "stripe-secret-key", f'stripe.api_key = "{STRIPE_LIVE_PY}"', (STRIPE_LIVE_PY,), "snippet"
    ),
    SecretCase(
        "stripe-secret-key",
        f"curl https://api.stripe.com/v1/charges -u {STRIPE_LIVE_CURL}: -d amount=2000 "
        "-d currency=usd",
        (STRIPE_LIVE_CURL,),
        "command",
    ),
    SecretCase(
        "stripe-secret-key",
        f"Authorization: Bearer {STRIPE_LIVE_HEADER}",
        (STRIPE_LIVE_HEADER,),
        "header",
    ),
    SecretCase(
        "stripe-secret-key", f"STRIPE_SECRET_KEY={STRIPE_LIVE_SHORT}", (STRIPE_LIVE_SHORT,), "line"
    ),
    SecretCase(
        "stripe-restricted-key",
        f"2026-01-01T12:00:00Z INFO payouts: using key {STRIPE_RESTRICTED} (read: balance)",
        (STRIPE_RESTRICTED,),
        "log",
    ),
    SecretCase(
        "stripe-test-key", f'client = StripeClient("{STRIPE_TEST}")', (STRIPE_TEST,), "snippet"
    ),
    SecretCase(
        "stripe-webhook-secret",
        "> Ready! You are using Stripe API Version [2024-06-20]. Your webhook signing secret is "
        f"{STRIPE_WEBHOOK_CLI} (^C to quit)",
        (STRIPE_WEBHOOK_CLI,),
        "log",
    ),
    SecretCase(
        "stripe-webhook-secret",
        f"STRIPE_WEBHOOK_SECRET={STRIPE_WEBHOOK_ENV}",
        (STRIPE_WEBHOOK_ENV,),
        "line",
    ),
    SecretCase(
        "square-access-token",
        f"curl https://connect.squareup.com/v2/payments -H 'Authorization: Bearer {SQUARE_TOKEN}'"
        " -H 'Square-Version: 2024-06-04'",
        (SQUARE_TOKEN,),
        "command",
    ),
    SecretCase(
        "square-access-token",
        f"SQUARE_ACCESS_TOKEN={SQUARE_TOKEN_EAAA}",
        (SQUARE_TOKEN_EAAA,),
        "line",
    ),
    SecretCase(
        "square-oauth-secret",
        f"square.oauth.client_secret={SQUARE_SECRET}",
        (SQUARE_SECRET,),
        "config",
    ),
    SecretCase(
        "shopify-access-token",
        f"X-Shopify-Access-Token: {SHOPIFY_TOKEN}",
        (SHOPIFY_TOKEN,),
        "header",
    ),
    SecretCase(
        "shopify-shared-secret", f"SHOPIFY_API_SECRET={SHOPIFY_SECRET}", (SHOPIFY_SECRET,), "line"
    ),
    SecretCase(
        "shopify-custom-app-token",
        'session = ShopifyAPI::Session.new(domain: "acme.myshopify.com", '
        f'token: "{SHOPIFY_CUSTOM}")',
        (SHOPIFY_CUSTOM,),
        "snippet",
    ),
    SecretCase(
        "braintree-access-token",
        f'gateway = braintree.BraintreeGateway(access_token="{BRAINTREE_TOKEN}")',
        (BRAINTREE_SECRET,),
        "snippet",
    ),
    SecretCase(
        "paypal-client-secret",
        "curl -X POST https://api-m.paypal.com/v1/oauth2/token "
        f'-u "{PAYPAL_CLIENT_ID}:{PAYPAL_SECRET}" -d "grant_type=client_credentials"',
        (PAYPAL_SECRET,),
        "command",
    ),
    SecretCase(
        "razorpay-key-secret",
        f'client = razorpay.Client(auth=("{RAZORPAY_KEY_ID}", "{RAZORPAY_SECRET}"))',
        (RAZORPAY_SECRET,),
        "snippet",
    ),
    SecretCase(
        "flutterwave-secret-key",
        f"POST https://api.flutterwave.com/v3/payments Authorization: Bearer {FLUTTERWAVE_KEY}",
        (FLUTTERWAVE_KEY,),
        "log",
    ),
    SecretCase(
        "plaid-secret",
        "POST /link/token/create "
        + json.dumps(
            {
                "client_id": "5e9a3f1c2b4d6e8f0a1b2c3d",
                "secret": PLAID_SECRET,
                "user": {"client_user_id": "user-42"},
            }
        ),
        (PLAID_SECRET,),
        "log",
    ),
    SecretCase(
        "credit-card-number",
        "charge failed for card 4539526018159083 exp 04/28: insufficient funds",
        ("4539526018159083",),
        "message",
    ),
    SecretCase(
        "credit-card-number",
        "Customer card: 4916 3016 6131 8607, exp 11/27",
        ("4916 3016 6131 8607",),
        "note",
    ),
    SecretCase(
        "credit-card-number",
        "2026-01-01T12:00:00Z WARN checkout: pan=5425-9139-0996-0304 status=declined",
        ("5425-9139-0996-0304",),
        "log",
    ),
    SecretCase(
        "credit-card-number",
        'POST /v1/tokens {"card": {"number": "2221824628194823", "exp_month": 4, '
        '"exp_year": 2028}}',
        ("2221824628194823",),
        "request",
    ),
    SecretCase(
        "credit-card-number",
        "Amex on file: 3782 199351 81909 (J. Doe)",
        ("3782 199351 81909",),
        "note",
    ),
    SecretCase(
        "credit-card-number",
        "refund to 6011-9378-6579-7549 queued",
        ("6011-9378-6579-7549",),
        "message",
    ),
    SecretCase(
        "credit-card-number",
        "Card(number='4024323194875746', exp_month=4, exp_year=2028, brand='visa')",
        ("4024323194875746",),
        "card",
    ),
    # -- messaging ---------------------------------------------------------------------------
    SecretCase("slack-bot-token", f"Authorization: Bearer {SLACK_BOT}", (SLACK_BOT,), "header"),
    SecretCase(
        "slack-bot-token",
        f'client = WebClient(token="{SLACK_BOT_SDK}")',
        (SLACK_BOT_SDK,),
        "snippet",
    ),
    SecretCase(
        "slack-bot-token",
        "slack_sdk.errors.SlackApiError: The request to the Slack API failed. "
        f"(url: https://slack.com/api/chat.postMessage, token: {SLACK_BOT_LOG})",
        (SLACK_BOT_LOG,),
        "log",
    ),
    SecretCase(
        "slack-user-token",
        f'curl -H "Authorization: Bearer {SLACK_USER}" https://slack.com/api/users.list',
        (SLACK_USER,),
        "command",
    ),
    SecretCase("slack-app-token", f"SLACK_APP_TOKEN={SLACK_APP}", (SLACK_APP,), "line"),
    SecretCase(
        "slack-refresh-token",
        "oauth.v2.access -> "
        + json.dumps({"ok": True, "refresh_token": SLACK_REFRESH, "expires_in": 43200}),
        (SLACK_REFRESH,),
        "log",
    ),
    SecretCase(
        "slack-webhook-url", SLACK_WEBHOOK + SLACK_WEBHOOK_SECRET, (SLACK_WEBHOOK_SECRET,), "url"
    ),
    SecretCase(
        "slack-webhook-url",
        "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"deploy ok\"}' "
        + SLACK_WEBHOOK_CURL
        + SLACK_WEBHOOK_SECRET_CURL,
        (SLACK_WEBHOOK_SECRET_CURL,),
        "command",
    ),
    SecretCase(
        "discord-webhook-url",
        f"https://discord.com/api/webhooks/1187654321098765432/{DISCORD_WEBHOOK_SECRET}",
        (DISCORD_WEBHOOK_SECRET,),
        "url",
    ),
    SecretCase(
        "discord-webhook-url",
        'requests.post("https://discordapp.com/api/webhooks/1098765432109876543/'
        f'{DISCORD_WEBHOOK_SECRET_LEGACY}", json={{"content": "build failed"}})',
        (DISCORD_WEBHOOK_SECRET_LEGACY,),
        "snippet",
    ),
    SecretCase("discord-bot-token", f"Authorization: Bot {DISCORD_BOT}", (DISCORD_BOT,), "header"),
    SecretCase(
        "telegram-bot-token",
        f"https://api.telegram.org/bot7012345678:{TELEGRAM_SECRET_URL}/sendMessage"
        "?chat_id=-1001234567890&text=deploy%20ok",
        (TELEGRAM_SECRET_URL,),
        "url",
    ),
    SecretCase(
        "telegram-bot-token",
        f"TELEGRAM_BOT_TOKEN=6123456789:{TELEGRAM_SECRET_ENV}",
        (TELEGRAM_SECRET_ENV,),
        "line",
    ),
    SecretCase(
        "telegram-bot-token",
        f'bot = telebot.TeleBot("5987654321:{TELEGRAM_SECRET_CODE}")',
        (TELEGRAM_SECRET_CODE,),
        "snippet",
    ),
    SecretCase(
        "twilio-api-key",
        f"TWILIO_API_KEY={TWILIO_API_KEY}\nTWILIO_API_SECRET={TWILIO_API_SECRET}\n",
        (TWILIO_API_KEY, TWILIO_API_SECRET),
        "env",
    ),
    SecretCase(
        "twilio-auth-token",
        f"curl -X POST https://api.twilio.com/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
        f' --data-urlencode "Body=hi" -u {TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}',
        (TWILIO_AUTH_TOKEN,),
        "command",
    ),
    SecretCase(
        "sendgrid-api-key", f"Authorization: Bearer {SENDGRID_HEADER}", (SENDGRID_HEADER,), "header"
    ),
    SecretCase(
        "sendgrid-api-key",
        f'sg = SendGridAPIClient("{SENDGRID_CODE}")',
        (SENDGRID_CODE,),
        "snippet",
    ),
    SecretCase(
        "mailgun-api-key",
        f"curl -s --user 'api:{MAILGUN_KEY}' https://api.mailgun.net/v3/mg.acme.io/messages "
        "-F to=ops@acme.io",
        (MAILGUN_KEY,),
        "command",
    ),
    SecretCase(
        "mailchimp-api-key",
        f'curl --user "anystring:{MAILCHIMP_KEY}-us12" https://us12.api.mailchimp.com/3.0/lists',
        (MAILCHIMP_KEY,),
        "command",
    ),
    SecretCase(
        "teams-webhook-url",
        "https://acme.webhook.office.com/webhookb2/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        "@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/"
        f"{TEAMS_WEBHOOK_SECRET}/5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
        (TEAMS_WEBHOOK_SECRET,),
        "url",
    ),
    SecretCase(
        "power-automate-webhook-url",
        "https://prod-27.westeurope.logic.azure.com:443/workflows/9f8e7d6c5b4a39281706f5e4d3c2b1a0"
        "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
        f"&sv=1.0&sig={POWER_AUTOMATE_SIG}",
        (POWER_AUTOMATE_SIG,),
        "url",
    ),
    SecretCase("brevo-api-key", f"api-key: {BREVO_KEY}", (BREVO_KEY,), "header"),
    SecretCase(
        "postmark-server-token",
        f"X-Postmark-Server-Token: {POSTMARK_TOKEN}",
        (POSTMARK_TOKEN,),
        "header",
    ),
    # -- source hosting ----------------------------------------------------------------------
    SecretCase(
        "github-pat-classic",
        f"git clone https://{GITHUB_CLASSIC_CLONE}@github.com/acme/infra.git",
        (GITHUB_CLASSIC_CLONE,),
        "command",
    ),
    SecretCase(
        "github-pat-classic",
        f"Authorization: token {GITHUB_CLASSIC_HEADER}",
        (GITHUB_CLASSIC_HEADER,),
        "header",
    ),
    SecretCase(
        "github-pat-classic",
        f"2026-01-01T12:00:00Z DEBUG gh: using {GITHUB_CLASSIC_LOG} from GH_TOKEN",
        (GITHUB_CLASSIC_LOG,),
        "log",
    ),
    SecretCase(
        "github-oauth-token",
        f"https://alice:{GITHUB_OAUTH_CREDENTIALS}@github.com",
        (GITHUB_OAUTH_CREDENTIALS,),
        "line",
    ),
    SecretCase(
        "github-oauth-token",
        f"github.com:\n    user: alice\n    oauth_token: {GITHUB_OAUTH_HOSTS}\n"
        "    git_protocol: https\n",
        (GITHUB_OAUTH_HOSTS,),
        "config",
    ),
    SecretCase(
        "github-oauth-token",
        f"protocol=https\nhost=github.com\nusername=alice\npassword={GITHUB_OAUTH_HELPER}\n",
        (GITHUB_OAUTH_HELPER,),
        "output",
    ),
    SecretCase(
        "github-refresh-token",
        "POST https://github.com/login/oauth/access_token -> "
        + json.dumps(
            {
                "access_token": GITHUB_USER_TO_SERVER,
                "expires_in": 28800,
                "refresh_token": GITHUB_REFRESH,
                "refresh_token_expires_in": 15811200,
                "token_type": "bearer",
            }
        ),
        (GITHUB_USER_TO_SERVER, GITHUB_REFRESH),
        "log",
    ),
    SecretCase(
        "github-user-to-server-token",
        f"octokit: request as user with {GITHUB_USER_TO_SERVER_LOG} (expires in 8h)",
        (GITHUB_USER_TO_SERVER_LOG,),
        "log",
    ),
    SecretCase(
        "github-installation-token",
        f"git remote set-url origin https://x-access-token:{GITHUB_INSTALLATION}@github.com/acme/app.git",
        (GITHUB_INSTALLATION,),
        "command",
    ),
    SecretCase(
        "github-installation-token",
        f"env:\n  GITHUB_TOKEN: {GITHUB_INSTALLATION_ACTIONS}\n  CI: true\n",
        (GITHUB_INSTALLATION_ACTIONS,),
        "config",
    ),
    SecretCase(
        "github-fine-grained-pat",
        f'curl -H "Authorization: Bearer {GITHUB_FINE_GRAINED_CURL}" '
        "https://api.github.com/repos/acme/api",
        (GITHUB_FINE_GRAINED_CURL,),
        "command",
    ),
    SecretCase(
        "github-fine-grained-pat",
        f"GH_TOKEN={GITHUB_FINE_GRAINED_ENV}",
        (GITHUB_FINE_GRAINED_ENV,),
        "line",
    ),
    SecretCase(
        "gitlab-pat",
        f'curl --header "PRIVATE-TOKEN: {GITLAB_PAT_HEADER}" https://gitlab.com/api/v4/projects',
        (GITLAB_PAT_HEADER,),
        "command",
    ),
    SecretCase(
        "gitlab-pat",
        f"https://oauth2:{GITLAB_PAT_URL}@gitlab.com/acme/app.git",
        (GITLAB_PAT_URL,),
        "url",
    ),
    SecretCase(
        "gitlab-runner-token",
        "gitlab-runner register --non-interactive --url https://gitlab.com "
        f"--token {GITLAB_RUNNER_CLI} --executor docker",
        (GITLAB_RUNNER_CLI,),
        "command",
    ),
    SecretCase(
        "gitlab-runner-token",
        '[[runners]]\n  name = "build-1"\n  url = "https://gitlab.com"\n'
        f'  token = "{GITLAB_RUNNER_TOML}"\n  executor = "docker"\n',
        (GITLAB_RUNNER_TOML,),
        "config",
    ),
    SecretCase(
        "gitlab-pipeline-trigger-token",
        f"curl -X POST --fail -F token={GITLAB_TRIGGER} -F ref=main "
        "https://gitlab.com/api/v4/projects/42/trigger/pipeline",
        (GITLAB_TRIGGER,),
        "command",
    ),
    SecretCase(
        "gitlab-deploy-token",
        f"docker login registry.gitlab.com -u gitlab+deploy-token-7 -p {GITLAB_DEPLOY}",
        (GITLAB_DEPLOY,),
        "command",
    ),
    SecretCase(
        "bitbucket-app-password",
        f"git clone https://alice:{BITBUCKET_APP_PASSWORD}@bitbucket.org/acme/api.git",
        (BITBUCKET_APP_PASSWORD,),
        "command",
    ),
    SecretCase(
        "atlassian-api-token",
        f'curl -u jane@acme.io:{ATLASSIAN_TOKEN} -H "Accept: application/json" '
        "https://acme.atlassian.net/rest/api/3/myself",
        (ATLASSIAN_BODY,),
        "command",
    ),
    # -- package registries ------------------------------------------------------------------
    SecretCase("npm-token", f"//registry.npmjs.org/:_authToken={NPM_RC}", (NPM_RC,), "line"),
    SecretCase(
        "npm-token",
        f"NPM_TOKEN={NPM_PUBLISH} npm publish --access public",
        (NPM_PUBLISH,),
        "command",
    ),
    SecretCase(
        "pypi-token",
        "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\n"
        f"password = {PYPI_PREFIX}{PYPI_RC_BODY}\n",
        (PYPI_RC_BODY,),
        "config",
    ),
    SecretCase(
        "pypi-token",
        f"twine upload -u __token__ -p {PYPI_PREFIX}{PYPI_TWINE_BODY} dist/*",
        (PYPI_TWINE_BODY,),
        "command",
    ),
    SecretCase(
        "pypi-token", f"uv publish --token {PYPI_PREFIX}{PYPI_UV_BODY}", (PYPI_UV_BODY,), "command"
    ),
    SecretCase(
        "rubygems-api-key",
        f"---\n:rubygems_api_key: {RUBYGEMS_CREDENTIALS}\n",
        (RUBYGEMS_CREDENTIALS,),
        "config",
    ),
    SecretCase(
        "rubygems-api-key",
        f"GEM_HOST_API_KEY={RUBYGEMS_ENV} gem push acme-1.0.0.gem",
        (RUBYGEMS_ENV,),
        "command",
    ),
    SecretCase(
        "docker-hub-pat",
        f"docker login -u acmebot -p {DOCKER_PAT_LOGIN}",
        (DOCKER_PAT_LOGIN,),
        "command",
    ),
    SecretCase(
        "docker-hub-pat",
        f'echo "{DOCKER_PAT_STDIN}" | docker login --username acmebot --password-stdin',
        (DOCKER_PAT_STDIN,),
        "command",
    ),
    SecretCase(
        "docker-config-auth",
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": DOCKER_CONFIG_AUTH}}}),
        (DOCKER_CONFIG_AUTH,),
        "config",
    ),
    SecretCase(
        "nuget-api-key",
        f"dotnet nuget push Acme.Core.1.2.0.nupkg --api-key {NUGET_KEY} "
        "--source https://api.nuget.org/v3/index.json",
        (NUGET_KEY,),
        "command",
    ),
    SecretCase(
        "nuget-config-password",
        '<packageSourceCredentials><acme><add key="Username" value="build" />'
        f'<add key="ClearTextPassword" value="{NUGET_FEED_PASSWORD}" /></acme>'
        "</packageSourceCredentials>",
        (NUGET_FEED_PASSWORD,),
        "config",
    ),
    SecretCase(
        "jfrog-api-key",
        f'curl -H "X-JFrog-Art-Api: {JFROG_KEY}" -T app.jar '
        "https://acme.jfrog.io/artifactory/libs-release/app.jar",
        (JFROG_KEY,),
        "command",
    ),
    SecretCase("crates-io-token", f"cargo login {CRATES_TOKEN}", (CRATES_TOKEN,), "command"),
    SecretCase(
        "maven-settings-password",
        "<server>\n  <id>ossrh</id>\n  <username>acme-deploy</username>\n"
        f"  <password>{MAVEN_PASSWORD}</password>\n</server>",
        (MAVEN_PASSWORD,),
        "config",
    ),
    # -- AI providers ------------------------------------------------------------------------
    SecretCase(
        "anthropic-api-key",
        "curl https://api.anthropic.com/v1/messages "
        f'-H "x-api-key: sk-ant-api03-{ANTHROPIC_CURL_BODY}" -H "anthropic-version: 2023-06-01"',
        (ANTHROPIC_CURL_BODY,),
        "command",
    ),
    SecretCase(
        "anthropic-api-key",
        f"ANTHROPIC_API_KEY=sk-ant-api03-{ANTHROPIC_ENV_BODY}",
        (ANTHROPIC_ENV_BODY,),
        "line",
    ),
    SecretCase(
        "anthropic-api-key",
        "AgentConfig(model='claude-sonnet-4-5', "
        f"anthropic_api_key='sk-ant-api03-{ANTHROPIC_REPR_BODY}', timeout=60)",
        (ANTHROPIC_REPR_BODY,),
        "config",
    ),
    SecretCase(
        "anthropic-admin-key",
        f"x-api-key: sk-ant-admin01-{ANTHROPIC_ADMIN_BODY}",
        (ANTHROPIC_ADMIN_BODY,),
        "header",
    ),
    SecretCase(
        "anthropic-oauth-token",
        f"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-{ANTHROPIC_OAUTH_BODY}",
        (ANTHROPIC_OAUTH_BODY,),
        "line",
    ),
    SecretCase(
        "openai-project-key",
        f"Authorization: Bearer {OPENAI_PROJECT_HEADER}",
        (OPENAI_PROJECT_HEADER,),
        "header",
    ),
    SecretCase(
        "openai-project-key", f"OPENAI_API_KEY={OPENAI_PROJECT_ENV}", (OPENAI_PROJECT_ENV,), "line"
    ),
    SecretCase(
        "openai-project-key",
        f'llm = ChatOpenAI(model="gpt-4o", api_key="{OPENAI_PROJECT_CODE}")',
        (OPENAI_PROJECT_CODE,),
        "snippet",
    ),
    SecretCase(
        "openai-legacy-key", f'openai.api_key = "{OPENAI_LEGACY}"', (OPENAI_LEGACY,), "snippet"
    ),
    SecretCase(
        "openai-service-account-key",
        "curl https://api.openai.com/v1/models "
        f'-H "Authorization: Bearer {OPENAI_SERVICE_ACCOUNT}"',
        (OPENAI_SERVICE_ACCOUNT,),
        "command",
    ),
    SecretCase(
        "openrouter-api-key", f"Authorization: Bearer {OPENROUTER_KEY}", (OPENROUTER_KEY,), "header"
    ),
    SecretCase("deepseek-api-key", f"DEEPSEEK_API_KEY={DEEPSEEK_KEY}", (DEEPSEEK_KEY,), "line"),
    SecretCase(
        "huggingface-token", f"huggingface-cli login --token {HF_LOGIN}", (HF_LOGIN,), "command"
    ),
    SecretCase(
        "huggingface-token",
        f"git clone https://alice:{HF_CLONE}@huggingface.co/acme/llama-ft",
        (HF_CLONE,),
        "command",
    ),
    SecretCase("huggingface-token", f"HF_TOKEN={HF_ENV}", (HF_ENV,), "line"),
    SecretCase("groq-api-key", f"Authorization: Bearer {GROQ_KEY}", (GROQ_KEY,), "header"),
    SecretCase("groq-api-key", f"GROQ_API_KEY={GROQ_KEY_ENV}", (GROQ_KEY_ENV,), "line"),
    SecretCase(
        "replicate-api-token",
        f"Authorization: Token {REPLICATE_TOKEN}",
        (REPLICATE_TOKEN,),
        "header",
    ),
    SecretCase(
        "replicate-api-token",
        f"REPLICATE_API_TOKEN={REPLICATE_TOKEN_ENV}",
        (REPLICATE_TOKEN_ENV,),
        "line",
    ),
    SecretCase(
        "perplexity-api-key",
        "curl https://api.perplexity.ai/chat/completions "
        f'-H "Authorization: Bearer {PERPLEXITY_KEY}" -d @q.json',
        (PERPLEXITY_KEY,),
        "command",
    ),
    SecretCase("xai-api-key", f"XAI_API_KEY={XAI_KEY}", (XAI_KEY,), "line"),
    SecretCase("langsmith-api-key", f"LANGSMITH_API_KEY={LANGSMITH_KEY}", (LANGSMITH_KEY,), "line"),
    SecretCase(
        "langsmith-api-key",
        f"x-api-key: {LANGSMITH_SERVICE_KEY}",
        (LANGSMITH_SERVICE_KEY,),
        "header",
    ),
    SecretCase(
        "langfuse-secret-key",
        'Langfuse(public_key="pk-lf-1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", '
        f'secret_key="{LANGFUSE_SECRET_CODE}", host="https://cloud.langfuse.com")',
        (LANGFUSE_SECRET_CODE,),
        "snippet",
    ),
    SecretCase(
        "langfuse-secret-key",
        f"LANGFUSE_SECRET_KEY={LANGFUSE_SECRET_ENV}",
        (LANGFUSE_SECRET_ENV,),
        "line",
    ),
    SecretCase("pinecone-api-key", f"PINECONE_API_KEY={PINECONE_KEY}", (PINECONE_KEY,), "line"),
    SecretCase(
        "tavily-api-key",
        "POST https://api.tavily.com/search "
        + json.dumps({"api_key": TAVILY_KEY, "query": "acme q4 results", "max_results": 5}),
        (TAVILY_KEY,),
        "log",
    ),
    SecretCase("elevenlabs-api-key", f"xi-api-key: {ELEVENLABS_KEY}", (ELEVENLABS_KEY,), "header"),
    SecretCase(
        "netrc-password",
        f"machine api.wandb.ai\n  login user\n  password {WANDB_KEY}\n",
        (WANDB_KEY,),
        "config",
    ),
    # -- observability -----------------------------------------------------------------------
    SecretCase(
        "datadog-api-key", f"DD_API_KEY={DATADOG_API_KEY_ENV}", (DATADOG_API_KEY_ENV,), "line"
    ),
    SecretCase(
        "datadog-app-key",
        'curl -X GET "https://api.datadoghq.com/api/v1/validate" '
        f'-H "DD-API-KEY: {DATADOG_API_KEY_CURL}" -H "DD-APPLICATION-KEY: {DATADOG_APP_KEY_CURL}"',
        (DATADOG_API_KEY_CURL, DATADOG_APP_KEY_CURL),
        "command",
    ),
    SecretCase(
        "datadog-api-key",
        f"# datadog.yaml\napi_key: {DATADOG_API_KEY_YAML}\nsite: datadoghq.eu\n",
        (DATADOG_API_KEY_YAML,),
        "config",
    ),
    SecretCase(
        "new-relic-user-key",
        f"curl https://api.newrelic.com/graphql -H 'API-Key: {NEW_RELIC_USER_KEY}' "
        '-d \'{"query": "{ actor { user { name } } }"}\'',
        (NEW_RELIC_USER_KEY,),
        "command",
    ),
    SecretCase(
        "new-relic-license-key",
        f"common: &default_settings\n  license_key: {NEW_RELIC_LICENSE}\n  app_name: acme-api\n",
        (NEW_RELIC_LICENSE,),
        "config",
    ),
    SecretCase(
        "sentry-org-auth-token",
        f"SENTRY_AUTH_TOKEN={SENTRY_ORG_TOKEN}",
        (SENTRY_ORG_TOKEN_SECRET,),
        "line",
    ),
    SecretCase(
        "sentry-user-auth-token",
        f"sentry-cli --auth-token {SENTRY_USER_TOKEN} releases new 1.2.3",
        (SENTRY_USER_TOKEN,),
        "command",
    ),
    SecretCase(
        "sentry-dsn",
        f"SENTRY_DSN=https://{SENTRY_DSN_KEY_ENV}@o450123.ingest.sentry.io/4504321",
        (SENTRY_DSN_KEY_ENV,),
        "line",
    ),
    SecretCase(
        "sentry-dsn",
        f'sentry_sdk.init(dsn="https://{SENTRY_DSN_KEY_CODE}@o450123.ingest.us.sentry.io/4504321",'
        " traces_sample_rate=0.1)",
        (SENTRY_DSN_KEY_CODE,),
        "snippet",
    ),
    SecretCase(
        "grafana-service-account-token",
        f"Authorization: Bearer {GRAFANA_SA_TOKEN}",
        (GRAFANA_SA_TOKEN,),
        "header",
    ),
    SecretCase(
        "grafana-cloud-token",
        f"https://1023456:{GRAFANA_CLOUD_TOKEN}@logs-prod-006.grafana.net/loki/api/v1/push",
        (GRAFANA_CLOUD_SECRET,),
        "url",
    ),
    SecretCase(
        "otlp-headers-basic-auth",
        f"OTEL_EXPORTER_OTLP_HEADERS=Authorization=Basic%20{GRAFANA_OTLP_BASIC}",
        (GRAFANA_OTLP_BASIC,),
        "line",
    ),
    SecretCase(
        "dynatrace-api-token",
        f"Authorization: Api-Token {DYNATRACE_TOKEN}",
        (DYNATRACE_SECRET,),
        "header",
    ),
    SecretCase("postman-api-key", f"x-api-key: {POSTMAN_KEY}", (POSTMAN_KEY,), "header"),
    SecretCase(
        "splunk-hec-token",
        "curl -k https://splunk.acme.io:8088/services/collector/event "
        f'-H "Authorization: Splunk {SPLUNK_HEC_TOKEN}" -d \'{{"event": "deploy"}}\'',
        (SPLUNK_HEC_TOKEN,),
        "command",
    ),
    SecretCase(
        "elastic-api-key", f"Authorization: ApiKey {ELASTIC_API_KEY}", (ELASTIC_API_KEY,), "header"
    ),
    SecretCase(
        "pagerduty-api-key",
        f"Authorization: Token token={PAGERDUTY_KEY}",
        (PAGERDUTY_KEY,),
        "header",
    ),
    SecretCase(
        "opsgenie-api-key", f"Authorization: GenieKey {OPSGENIE_KEY}", (OPSGENIE_KEY,), "header"
    ),
    # -- other SaaS --------------------------------------------------------------------------
    SecretCase("linear-api-key", f"Authorization: {LINEAR_KEY}", (LINEAR_KEY,), "header"),
    SecretCase(
        "notion-token",
        f"Authorization: Bearer {NOTION_TOKEN}\nNotion-Version: 2022-06-28\n",
        (NOTION_TOKEN,),
        "headers",
    ),
    SecretCase("notion-legacy-token", f"NOTION_TOKEN={NOTION_LEGACY}", (NOTION_LEGACY,), "line"),
    SecretCase(
        "airtable-pat",
        'curl "https://api.airtable.com/v0/appX1y2Z3a4B5c6D7/Tasks" '
        f'-H "Authorization: Bearer {AIRTABLE_PAT}"',
        (AIRTABLE_PAT,),
        "command",
    ),
    SecretCase("figma-token", f"X-Figma-Token: {FIGMA_TOKEN}", (FIGMA_TOKEN,), "header"),
    SecretCase(
        "digitalocean-token",
        f"doctl auth init --access-token {DIGITALOCEAN_TOKEN}",
        (DIGITALOCEAN_TOKEN,),
        "command",
    ),
    SecretCase(
        "digitalocean-oauth-token",
        f"DIGITALOCEAN_TOKEN={DIGITALOCEAN_OAUTH}",
        (DIGITALOCEAN_OAUTH,),
        "line",
    ),
    SecretCase("databricks-token", f"DATABRICKS_TOKEN={DATABRICKS_ENV}", (DATABRICKS_ENV,), "line"),
    SecretCase(
        "databricks-token",
        "[DEFAULT]\nhost = https://adb-1234567890123456.7.azuredatabricks.net\n"
        f"token = {DATABRICKS_CFG}\n",
        (DATABRICKS_CFG,),
        "config",
    ),
    SecretCase(
        "databricks-token",
        "jdbc:databricks://adb-1234567890123456.7.azuredatabricks.net:443/default;transportMode=http;"
        f"ssl=1;AuthMech=3;httpPath=/sql/1.0/warehouses/a1b2c3d4e5f6;UID=token;PWD={DATABRICKS_JDBC}",
        (DATABRICKS_JDBC,),
        "url",
    ),
    SecretCase("vault-token", f"X-Vault-Token: {VAULT_HEADER}", (VAULT_HEADER,), "header"),
    SecretCase("vault-token", f"vault login {VAULT_LOGIN}", (VAULT_LOGIN,), "command"),
    SecretCase("doppler-token", f"DOPPLER_TOKEN={DOPPLER_PERSONAL}", (DOPPLER_PERSONAL,), "line"),
    SecretCase(
        "doppler-service-token",
        f"doppler run --token {DOPPLER_SERVICE} -- ./server",
        (DOPPLER_SERVICE,),
        "command",
    ),
    SecretCase(
        "pulumi-access-token", f"PULUMI_ACCESS_TOKEN={PULUMI_TOKEN}", (PULUMI_TOKEN,), "line"
    ),
    SecretCase(
        "supabase-access-token",
        f"supabase login --token {SUPABASE_TOKEN}",
        (SUPABASE_TOKEN,),
        "command",
    ),
    SecretCase(
        "planetscale-service-token",
        f"PLANETSCALE_SERVICE_TOKEN={PLANETSCALE_TOKEN}",
        (PLANETSCALE_TOKEN,),
        "line",
    ),
    SecretCase(
        "planetscale-password",
        f"mysql://k3x9w2p1q8r7:{PLANETSCALE_PASSWORD}@aws.connect.psdb.cloud/acme?sslaccept=strict",
        (PLANETSCALE_PASSWORD,),
        "dsn",
    ),
    SecretCase(
        "age-secret-key",
        f"# created: 2026-01-01T00:00:00Z\n# public key: {AGE_PUBLIC}\n"
        f"AGE-SECRET-KEY-1{AGE_KEY_BODY}\n",
        (AGE_KEY_BODY,),
        "config",
    ),
    SecretCase(
        "twitter-bearer-token",
        'curl "https://api.twitter.com/2/tweets/search/recent?query=acme" '
        f'-H "Authorization: Bearer {TWITTER_BEARER}"',
        (TWITTER_BEARER_BODY,),
        "command",
    ),
    SecretCase(
        "mapbox-secret-token",
        f"curl -X POST https://api.mapbox.com/uploads/v1/acme-maps?access_token={MAPBOX_TOKEN}",
        (MAPBOX_PAYLOAD, MAPBOX_SIGNATURE),
        "command",
    ),
    SecretCase("okta-api-token", f"Authorization: SSWS {OKTA_TOKEN}", (OKTA_TOKEN,), "header"),
    SecretCase("heroku-api-key", f"HEROKU_API_KEY={HEROKU_KEY}", (HEROKU_KEY,), "line"),
    SecretCase(
        "netrc-password",
        f"machine api.heroku.com\n  login alice@acme.io\n  password {HEROKU_NETRC_PASSWORD}\n",
        (HEROKU_NETRC_PASSWORD,),
        "config",
    ),
    SecretCase(
        "cloudflare-global-api-key",
        'curl https://api.cloudflare.com/client/v4/zones -H "X-Auth-Email: ops@acme.io" '
        f'-H "X-Auth-Key: {CLOUDFLARE_GLOBAL_KEY}"',
        (CLOUDFLARE_GLOBAL_KEY,),
        "command",
    ),
    SecretCase(
        "cloudflare-api-token",
        f"CLOUDFLARE_API_TOKEN={CLOUDFLARE_TOKEN}",
        (CLOUDFLARE_TOKEN,),
        "line",
    ),
    SecretCase(
        "netlify-token",
        f"netlify deploy --prod --auth {NETLIFY_TOKEN}",
        (NETLIFY_TOKEN,),
        "command",
    ),
    SecretCase("fly-io-token", f"fly deploy --access-token {FLY_TOKEN}", (FLY_TOKEN,), "command"),
    SecretCase("render-api-key", f"Authorization: Bearer {RENDER_KEY}", (RENDER_KEY,), "header"),
    SecretCase(
        "hubspot-private-app-token",
        f"Authorization: Bearer {HUBSPOT_TOKEN}",
        (HUBSPOT_TOKEN,),
        "header",
    ),
    SecretCase(
        "contentful-management-token",
        f"CONTENTFUL_MANAGEMENT_TOKEN={CONTENTFUL_TOKEN}",
        (CONTENTFUL_TOKEN,),
        "line",
    ),
    SecretCase(
        "terraform-cloud-token",
        json.dumps({"credentials": {"app.terraform.io": {"token": TERRAFORM_TOKEN}}}),
        (TERRAFORM_TOKEN,),
        "config",
    ),
    SecretCase(
        "sonarqube-token",
        "sonar-scanner -Dsonar.projectKey=acme-api -Dsonar.host.url=https://sonar.acme.io "
        f"-Dsonar.token={SONAR_TOKEN}",
        (SONAR_TOKEN,),
        "command",
    ),
    SecretCase(
        "buildkite-token", f"Authorization: Bearer {BUILDKITE_TOKEN}", (BUILDKITE_TOKEN,), "header"
    ),
    SecretCase("circleci-token", f"Circle-Token: {CIRCLECI_TOKEN}", (CIRCLECI_TOKEN,), "header"),
    SecretCase(
        "tailscale-auth-key", f"tailscale up --authkey={TAILSCALE_KEY}", (TAILSCALE_KEY,), "command"
    ),
    SecretCase(
        "ngrok-authtoken", f"ngrok config add-authtoken {NGROK_TOKEN}", (NGROK_TOKEN,), "command"
    ),
    SecretCase("prefect-api-key", f"PREFECT_API_KEY={PREFECT_KEY}", (PREFECT_KEY,), "line"),
    SecretCase("neon-api-key", f"Authorization: Bearer {NEON_KEY}", (NEON_KEY,), "header"),
    SecretCase("resend-api-key", f'resend.api_key = "{RESEND_KEY}"', (RESEND_KEY,), "snippet"),
    SecretCase(
        "sourcegraph-token", f"SRC_ACCESS_TOKEN={SOURCEGRAPH_TOKEN}", (SOURCEGRAPH_TOKEN,), "line"
    ),
    SecretCase(
        "shippo-api-token", f"Authorization: ShippoToken {SHIPPO_TOKEN}", (SHIPPO_TOKEN,), "header"
    ),
    SecretCase(
        "dropbox-access-token", f"Authorization: Bearer {DROPBOX_TOKEN}", (DROPBOX_TOKEN,), "header"
    ),
    SecretCase(
        "asana-pat",
        f'curl https://app.asana.com/api/1.0/users/me -H "Authorization: Bearer {ASANA_TOKEN}"',
        (ASANA_TOKEN,),
        "command",
    ),
    SecretCase(
        "zendesk-api-token",
        f"curl https://acme.zendesk.com/api/v2/users.json -u jane@acme.io/token:{ZENDESK_TOKEN}",
        (ZENDESK_TOKEN,),
        "command",
    ),
    SecretCase(
        "salesforce-access-token",
        f"Authorization: Bearer {SALESFORCE_TOKEN}",
        (SALESFORCE_TOKEN,),
        "header",
    ),
    SecretCase(
        "algolia-admin-key",
        f"X-Algolia-Application-Id: ACME1234EF\nX-Algolia-API-Key: {ALGOLIA_ADMIN_KEY}\n",
        (ALGOLIA_ADMIN_KEY,),
        "headers",
    ),
    SecretCase(
        "launchdarkly-sdk-key", f"LD_SDK_KEY={LAUNCHDARKLY_KEY}", (LAUNCHDARKLY_KEY,), "line"
    ),
    SecretCase(
        "1password-service-account-token",
        f"OP_SERVICE_ACCOUNT_TOKEN={ONEPASSWORD_TOKEN}",
        (ONEPASSWORD_TOKEN,),
        "line",
    ),
    SecretCase(
        "facebook-access-token",
        f"https://graph.facebook.com/v19.0/me?fields=id,name&access_token={FACEBOOK_TOKEN}",
        (FACEBOOK_TOKEN,),
        "url",
    ),
    SecretCase(
        "url-query-appid",
        f"http://api.openweathermap.org/data/2.5/weather?q=Paris&appid={OPENWEATHER_APPID}",
        (OPENWEATHER_APPID,),
        "url",
    ),
    SecretCase(
        "totp-secret",
        f"otpauth://totp/Acme:alice@acme.io?secret={TOTP_SECRET}&issuer=Acme&digits=6&period=30",
        (TOTP_SECRET,),
        "url",
    ),
    # -- JWTs --------------------------------------------------------------------------------
    SecretCase("jwt", f"Authorization: Bearer {JWT_BEARER}", (JWT_BEARER_REST,), "header"),
    SecretCase(
        "jwt",
        f"Set-Cookie: id_token={JWT_COOKIE}; Path=/; Secure; HttpOnly",
        (JWT_COOKIE_REST,),
        "header",
    ),
    SecretCase(
        "jwt",
        f"2026-01-01T12:00:00Z DEBUG auth: verified {JWT_LOG} for sub=alice",
        (JWT_LOG_REST,),
        "log",
    ),
    SecretCase(
        "supabase-service-role-key",
        f"SUPABASE_SERVICE_ROLE_KEY={JWT_SUPABASE}",
        (JWT_SUPABASE_REST,),
        "line",
    ),
    SecretCase(
        "kubeconfig-token",
        f"users:\n- name: ci\n  user:\n    token: {JWT_KUBE}\n",
        (JWT_KUBE_REST,),
        "config",
    ),
    # -- private keys ------------------------------------------------------------------------
    SecretCase(
        "pem-rsa-private-key", PEM_RSA, _armored_material(RSA_BODY, len(RSA_HEAD)), "config"
    ),
    SecretCase(
        "pem-rsa-private-key",
        "ssl error: could not parse key near: "
        + _armor("RSA PRIVATE KEY", RSA_TRUNCATED_BODY)[:300],
        _armored_material(RSA_TRUNCATED_BODY[:256], len(RSA_HEAD)),
        "message",
    ),
    SecretCase(
        "pem-ec-private-key",
        "tls:\n  cert_file: /etc/acme/tls.crt\n  key: |\n" + textwrap.indent(PEM_EC, "    "),
        _armored_material(EC_BODY, len(EC_HEAD)),
        "config",
    ),
    SecretCase(
        "pem-pkcs8-private-key",
        'PRIVATE_KEY="' + PEM_PKCS8.replace("\n", "\\n") + '"',
        _armored_material(PKCS8_BODY, len(PKCS8_HEAD)),
        "line",
    ),
    SecretCase(
        "pem-encrypted-private-key",
        PEM_ENCRYPTED,
        _armored_material(ENCRYPTED_BODY, len(ENCRYPTED_HEAD)),
        "config",
    ),
    SecretCase(
        "openssh-private-key",
        OPENSSH_KEY,
        _armored_material(OPENSSH_BODY, len(OPENSSH_HEAD), width=70),
        "config",
    ),
    SecretCase(
        "openssh-private-key",
        "ssh-add - <<'EOF'\n" + OPENSSH_HEREDOC_KEY + "EOF",
        _armored_material(OPENSSH_HEREDOC_BODY, len(OPENSSH_HEAD), width=70),
        "command",
    ),
    SecretCase("pgp-private-key-block", PGP_KEY, _armored_material(PGP_BODY, 4), "config"),
    SecretCase("putty-private-key", PUTTY_KEY, (PPK_PRIVATE, PPK_MAC), "config"),
    SecretCase(
        "kubernetes-secret-tls-key",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: acme-tls\ntype: kubernetes.io/tls\n"
        f"data:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n  tls.key: {K8S_TLS_KEY_B64}\n",
        (K8S_TLS_KEY_B64[56:],),
        "manifest",
    ),
    # -- Authorization schemes ---------------------------------------------------------------
    SecretCase(
        "authorization-bearer", f"Authorization: Bearer {BEARER_OPAQUE}", (BEARER_OPAQUE,), "header"
    ),
    SecretCase(
        "authorization-bearer", f"authorization: bearer {BEARER_LOWER}", (BEARER_LOWER,), "header"
    ),
    SecretCase(
        "authorization-basic", f"Authorization: Basic {BASIC_DEPLOY}", (BASIC_DEPLOY,), "header"
    ),
    SecretCase(
        "authorization-basic", f"Proxy-Authorization: Basic {BASIC_PROXY}", (BASIC_PROXY,), "header"
    ),
    SecretCase(
        "authorization-basic",
        f'git -c http.extraHeader="Authorization: Basic {BASIC_GIT}" clone https://git.acme.io/app.git',
        (BASIC_GIT,),
        "command",
    ),
    SecretCase("authorization-token", f"Authorization: Token {DRF_TOKEN}", (DRF_TOKEN,), "header"),
    SecretCase(
        "authorization-digest",
        'Authorization: Digest username="alice", realm="api@acme.io", nonce="dcd98b7102dd2f0e", '
        f'uri="/dir/index.html", qop=auth, nc=00000001, response="{DIGEST_RESPONSE}"',
        (DIGEST_RESPONSE,),
        "header",
    ),
    SecretCase(
        "authorization-oauth1",
        'Authorization: OAuth oauth_consumer_key="xvz1evFS4wEEPTGE", oauth_nonce="kYjzVBB8Y0ZF", '
        f'oauth_signature="{OAUTH1_SIGNATURE}", oauth_signature_method="HMAC-SHA1", '
        f'oauth_timestamp="1767225600", oauth_token="{OAUTH1_TOKEN}", oauth_version="1.0"',
        (OAUTH1_SIGNATURE, OAUTH1_TOKEN),
        "header",
    ),
    SecretCase(
        "authorization-negotiate",
        f"Authorization: Negotiate {NEGOTIATE_BODY}",
        (NEGOTIATE_BODY[4:],),
        "header",
    ),
    SecretCase(
        "http-request-dump",
        "POST /v1/charges HTTP/1.1\r\nHost: api.acme.io\r\n"
        f"Authorization: Basic {BASIC_DEPLOY}\r\nContent-Type: application/json\r\n\r\n",
        (BASIC_DEPLOY,),
        "request",
    ),
    SecretCase(
        "python-dict-repr-header",
        f"{{'Authorization': 'Bearer {OPAQUE_ACCESS}', 'Accept': 'application/json'}}",
        (OPAQUE_ACCESS,),
        "headers",
    ),
    # -- cookies -----------------------------------------------------------------------------
    SecretCase(
        "cookie-header",
        f"Cookie: sessionid={COOKIE_SESSIONID}; csrftoken={COOKIE_CSRF}",
        (COOKIE_SESSIONID, COOKIE_CSRF),
        "header",
    ),
    SecretCase(
        "cookie-header",
        f"Cookie: _gitlab_session={COOKIE_GITLAB}; remember_user_token={COOKIE_REMEMBER}",
        (COOKIE_GITLAB, COOKIE_REMEMBER),
        "header",
    ),
    SecretCase(
        "set-cookie-header",
        f"Set-Cookie: __Host-session={SET_COOKIE_SESSION}; Path=/; Secure; HttpOnly; SameSite=Lax",
        (SET_COOKIE_SESSION,),
        "header",
    ),
    SecretCase(
        "set-cookie-header",
        f"Set-Cookie: connect.sid={CONNECT_SID}; Path=/; HttpOnly",
        (CONNECT_SID,),
        "header",
    ),
    SecretCase(
        "cookie-header",
        f"curl -b 'PHPSESSID={PHPSESSID}; wordpress_logged_in_5f3a={WORDPRESS_COOKIE}' "
        "https://blog.acme.io/wp-admin/",
        (PHPSESSID, WORDPRESS_COOKIE),
        "command",
    ),
    SecretCase(
        "jsessionid-url",
        f"GET /app/orders;jsessionid={JSESSIONID}?page=2 HTTP/1.1",
        (JSESSIONID,),
        "log",
    ),
    # -- URL query parameters ----------------------------------------------------------------
    SecretCase(
        "url-query-token",
        f"wss://stream.acme.io/v1/events?channel=orders&token={QUERY_TOKEN}",
        (QUERY_TOKEN,),
        "url",
    ),
    SecretCase(
        "url-query-password",
        "https://legacy.acme.io/cgi-bin/export?user=ops&password=Spr1ng-Tide-2026&format=csv",
        ("Spr1ng-Tide-2026",),
        "url",
    ),
    SecretCase(
        "url-query-api-key",
        f"GET https://api.acme.io/v2/search?q=llama&api_key={QUERY_API_KEY}&page=2",
        (QUERY_API_KEY,),
        "log",
    ),
    SecretCase(
        "oauth-client-credentials",
        "2026-01-01T12:00:00Z DEBUG http: POST /oauth/token body=grant_type=client_credentials"
        f"&client_id=acme-etl&client_secret={OAUTH_CLIENT_SECRET}",
        (OAUTH_CLIENT_SECRET,),
        "log",
    ),
    # -- passwords in URLs -------------------------------------------------------------------
    SecretCase(
        "url-password-postgres",
        "postgresql://app:p@ss#w0rd-Blue42@db.internal:5432/app",
        ("p@ss#w0rd-Blue42",),
        "dsn",
    ),
    SecretCase(
        "url-password-postgres",
        "postgresql+psycopg2://etl:etl%23Pa55%21x@warehouse.internal/analytics",
        ("etl%23Pa55%21x",),
        "dsn",
    ),
    SecretCase(
        "url-password-postgres",
        "could not connect to server: postgres://report:Q4-r3port!s@10.0.3.7:5432/bi: timeout",
        ("Q4-r3port!s",),
        "message",
    ),
    SecretCase(
        "url-password-mysql",
        "mysql://root:S3cr3t/Pass:9@mysql.internal:3306/shop",
        ("S3cr3t/Pass:9",),
        "dsn",
    ),
    SecretCase(
        "url-password-mongodb",
        "mongodb+srv://admin:pa%40ss%3Aw0rd%2F7@cluster0.ab1cd.mongodb.net/prod"
        "?retryWrites=true&w=majority",
        ("pa%40ss%3Aw0rd%2F7",),
        "dsn",
    ),
    SecretCase(
        "url-password-redis",
        "redis://:Redis-Sup3r-Secret@cache.internal:6379/0",
        ("Redis-Sup3r-Secret",),
        "dsn",
    ),
    SecretCase(
        "url-password-redis",
        f"rediss://default:{UPSTASH_PASSWORD}@eu1-brave-lion-31337.upstash.io:6379",
        (UPSTASH_PASSWORD,),
        "dsn",
    ),
    SecretCase(
        "url-password-amqp",
        "amqp://orders:Rabb1t:Queue@rabbit.internal:5672/%2F",
        ("Rabb1t:Queue",),
        "dsn",
    ),
    SecretCase(
        "url-password-https",
        "https://deploy:Tr0ub4dor&3-horse@artifacts.acme.io/repository/releases/",
        ("Tr0ub4dor&3-horse",),
        "url",
    ),
    SecretCase(
        "url-password-smtp",
        "smtp://alerts%40acme.io:Mail-Relay-8842@smtp.gmail.com:587",
        ("Mail-Relay-8842",),
        "dsn",
    ),
    SecretCase(
        "url-password-ftp",
        "ftp://backup:Ftp#Backup#2026@files.acme.io/nightly/",
        ("Ftp#Backup#2026",),
        "url",
    ),
    SecretCase(
        "jdbc-password",
        "jdbc:postgresql://db.internal:5432/app?user=app&password=Jdbc-Pa55word&ssl=true",
        ("Jdbc-Pa55word",),
        "url",
    ),
    SecretCase(
        "jdbc-password",
        "jdbc:sqlserver://sql.internal:1433;databaseName=crm;user=sa;password=Str0ng!Pass;encrypt=true",
        ("Str0ng!Pass",),
        "url",
    ),
    SecretCase(
        "ado-net-connection-string",
        "Server=tcp:acme.database.windows.net,1433;Initial Catalog=crm;User ID=crmadmin;"
        "Password=Az-Sql#2026-crm;Encrypt=True;",
        ("Az-Sql#2026-crm",),
        "connection_string",
    ),
    SecretCase(
        "odbc-connection-string",
        "Driver={ODBC Driver 18 for SQL Server};Server=tcp:sql.internal;Uid=etl;Pwd={p@ss;w0rd-X};",
        ("p@ss;w0rd-X",),
        "connection_string",
    ),
    SecretCase(
        "libpq-connection-string",
        'psql "host=db.internal dbname=app user=app password=Libpq-Pa55-x sslmode=require"',
        ("Libpq-Pa55-x",),
        "command",
    ),
    # -- command lines -----------------------------------------------------------------------
    SecretCase("cli-mysql-p", "mysql -u root -pS3cr3tPass db", ("S3cr3tPass",), "command"),
    SecretCase(
        "cli-curl-user",
        "curl -u admin:hunter2pass https://jenkins.acme.io/api/json",
        ("hunter2pass",),
        "command",
    ),
    SecretCase(
        "cli-password-flag",
        "mongodump --username admin --password M0ngo-Dump-77 --db prod",
        ("M0ngo-Dump-77",),
        "command",
    ),
    SecretCase(
        "cli-password-flag",
        "wget --user=ci --password=Wg3t-Secret-99 https://files.acme.io/build.tar.gz",
        ("Wg3t-Secret-99",),
        "command",
    ),
    SecretCase(
        "cli-password-flag",
        "mysqldump --user=backup --password='Back#Up$2026' shop > shop.sql",
        ("Back#Up$2026",),
        "command",
    ),
    SecretCase(
        "cli-api-key-flag",
        f"acme-cli deploy --api-key {CLI_API_KEY} --env prod",
        (CLI_API_KEY,),
        "command",
    ),
    SecretCase(
        "cli-token-flag",
        f"kubectl --server https://k8s.acme.io:6443 --token={KUBECTL_TOKEN} get pods",
        (KUBECTL_TOKEN,),
        "command",
    ),
    SecretCase(
        "cli-pgpassword-env",
        "PGPASSWORD=Pg-Env-Pa55-44 psql -h db.internal -U app app",
        ("Pg-Env-Pa55-44",),
        "command",
    ),
    SecretCase(
        "cli-sshpass",
        "sshpass -p Ssh-Pa55word-5 ssh deploy@10.0.0.5",
        ("Ssh-Pa55word-5",),
        "command",
    ),
    SecretCase(
        "cli-redis-cli-a",
        "redis-cli -h cache.internal -a R3dis-Cli-Pass --no-auth-warning ping",
        ("R3dis-Cli-Pass",),
        "command",
    ),
    SecretCase(
        "cli-htpasswd-b",
        "htpasswd -b -c /etc/nginx/.htpasswd admin Htp-Admin-2026",
        ("Htp-Admin-2026",),
        "command",
    ),
    SecretCase(
        "cli-openssl-pass",
        "openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 "
        "-passout pass:P12-Export-Pw",
        ("P12-Export-Pw",),
        "command",
    ),
    SecretCase(
        "cli-docker-env",
        "docker run -e POSTGRES_PASSWORD=Pg-Docker-Pass-1 -d postgres:16",
        ("Pg-Docker-Pass-1",),
        "command",
    ),
    # -- config files ------------------------------------------------------------------------
    SecretCase("env-line", "DB_PASS=Pg-Env-File-2026", ("Pg-Env-File-2026",), "line"),
    SecretCase("env-line", "REDIS_PASS=Redis-Env-File-77", ("Redis-Env-File-77",), "line"),
    SecretCase(
        "env-line", "export SECRET_KEY=Flask-S3cret-K3y-x9", ("Flask-S3cret-K3y-x9",), "line"
    ),
    SecretCase("env-line", f"DJANGO_SECRET_KEY='{DJANGO_SECRET}'", (DJANGO_SECRET,), "line"),
    SecretCase("env-line", f"SECRET_KEY_BASE={RAILS_SECRET}", (RAILS_SECRET,), "line"),
    SecretCase("env-line", f"APP_KEY=base64:{LARAVEL_KEY}", (LARAVEL_KEY,), "line"),
    SecretCase("env-line", f"FERNET_KEY={FERNET_KEY}", (FERNET_KEY,), "line"),
    SecretCase(
        "ini-password",
        "[mysql]\nuser = app\npassword = correct horse battery staple\nhost = db.internal\n",
        ("correct horse battery staple",),
        "config",
    ),
    SecretCase(
        "ini-password",
        '[client]\nuser=backup\npassword="My.cnf-Pa55!"\n',
        ("My.cnf-Pa55!",),
        "config",
    ),
    SecretCase(
        "yaml-password",
        "database:\n  host: db.internal\n  user: app\n  password: Yaml-Pa55-88\n",
        ("Yaml-Pa55-88",),
        "config",
    ),
    SecretCase(
        "yaml-api-key",
        f'openai:\n  api_key: "{OPENAI_LEGACY}"\n  model: gpt-4o\n',
        (OPENAI_LEGACY,),
        "config",
    ),
    SecretCase(
        "yaml-password",
        "services:\n  db:\n    image: postgres:16\n    environment:\n"
        "      POSTGRES_PASSWORD: Compose-Pg-Pa55\n",
        ("Compose-Pg-Pa55",),
        "config",
    ),
    SecretCase(
        "properties-password",
        "spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password=Spr1ng-Db-Pw\n",
        ("Spr1ng-Db-Pw",),
        "config",
    ),
    SecretCase("xml-password", "<password>Xml-Pa55-2026</password>", ("Xml-Pa55-2026",), "config"),
    SecretCase(
        "netrc-password",
        "machine api.acme.io login alice password Netrc-Pa55-2026",
        ("Netrc-Pa55-2026",),
        "line",
    ),
    SecretCase(
        "pgpass-line", "db.internal:5432:app:app_user:Pgpass-Secret-9", ("Pgpass-Secret-9",), "line"
    ),
    SecretCase(
        "wpa-supplicant-psk",
        'network={\n    ssid="AcmeCorp"\n    psk="Wifi-Passphrase-2026"\n}\n',
        ("Wifi-Passphrase-2026",),
        "config",
    ),
    SecretCase(
        "gmail-app-password",
        f'EMAIL_HOST_PASSWORD = "{GMAIL_APP_PASSWORD}"',
        (GMAIL_APP_PASSWORD,),
        "line",
    ),
    SecretCase("htpasswd-bcrypt-hash", f"admin:$2y$05${BCRYPT_HASH}", (BCRYPT_HASH,), "line"),
    # -- headers -----------------------------------------------------------------------------
    SecretCase("header-x-api-key", f"X-Api-Key: {X_API_KEY}", (X_API_KEY,), "header"),
    SecretCase("header-x-auth-token", f"X-Auth-Token: {X_AUTH_TOKEN}", (X_AUTH_TOKEN,), "header"),
    SecretCase("header-rapidapi-key", f"X-RapidAPI-Key: {RAPIDAPI_KEY}", (RAPIDAPI_KEY,), "header"),
    # -- prose, reprs and logs ---------------------------------------------------------------
    SecretCase("prose-api-key", f"API Key: {PROSE_API_KEY}", (PROSE_API_KEY,), "note"),
    SecretCase(
        "prose-password",
        "Your temporary password is: Temp-7f3K-Qx9w (change it at first login)",
        ("Temp-7f3K-Qx9w",),
        "message",
    ),
    SecretCase(
        "prose-password",
        "The root password for staging is Root-Stg-Alpha-61, rotate after the demo.",
        ("Root-Stg-Alpha-61",),
        "note",
    ),
    # Short ones (6-7 characters, letters and digits) in a sentence: ambiguous, so redacted.
    SecretCase("prose-password", "login failed: the password is hunter2", ("hunter2",), "message"),
    SecretCase("prose-password", "The passphrase was abc123 until Monday", ("abc123",), "note"),
    SecretCase(
        "python-repr-password",
        "{'user': 'etl', 'password': 'Repr-Pa55-31x', 'host': 'db.internal'}",
        ("Repr-Pa55-31x",),
        "params",
    ),
    SecretCase(
        "log-key-value-password",
        "2026-01-01T12:00:00Z DEBUG db: connect host=db.internal user=app password=Log-Pa55-77x "
        "sslmode=require",
        ("Log-Pa55-77x",),
        "log",
    ),
    SecretCase(
        "json-after-prefix",
        "HTTP 400: "
        + json.dumps(
            {
                "error": "invalid_grant",
                "error_description": "Bad Request",
                "refresh_token": OPAQUE_REFRESH,
            }
        ),
        (OPAQUE_REFRESH,),
        "message",
    ),
]


# == secrets hidden in structure =============================================================

KEY_TOKEN = "ghp_" + "xSKEJ6MUc0O4KPSleJ4HU1F5B2KTP7UMRdEG"
NESTED_KEY_BODY = (
    "eSgyLf7kWOOPU7ca-KxkkyVo_BBvjpP2HBKpNErDUXGiKRjChxXseHuMlBLkS4LGnBPMDQpvcTHZoIWzoVX2enGq0XlkN"
) + "AA"
ARGV_PASSWORD = "Argv-Pa55-" + "oz2YCHk7"
ARGV_API_KEY = "08d5uLzW9kaP3xsJelFNyOPHrUplNSQ1"
ARGV_MYSQL_P = "Zs3cret" + "jYup9C"
ARGV_CURL_PASSWORD = "N0tS0" + "hCeCPXDY"
ARGV_DOCKER_PAT = "dckr_pat_" + "5SXpVhMll_T1NUHg_cQquP2v-tP"
ARGV_ENV_PASSWORD = "Env-Argv-" + "K9KxZw7Y"
TUPLE_HEADER_BEARER = "6_O0ZnJ0Oi-zCsQOJUv7dBRM9MVORyWzJGoEUwhG"
TUPLE_HEADER_API_KEY = "TpoXVquUAwxQCQptnUkXmW9end4NrlaV"
BYTES_HEADER_BEARER = "CHMfucCrdsWU0_yKTVxw3h_OWUN_W3N9uQWAgMTw"
BYTES_HEADER_API_KEY = "E8NZ6kvM961XLlLLogokhWfcWU2HtSTo"
K8S_DB_PASSWORD = "K8s-Db-" + "0jDWf61z58"
K8S_API_TOKEN = "jiFZS-uxIUF37WyTmnSWfk8sBMzJLEZbGm6aKgoo"
HAR_SID = "wVnZ1rVOk9Bu7D7Fp0-SgFuSHqFqdzHY"
HAR_CSRF = "RLqKttisXixj5W8U0emylgDw0q7ENFLU"
HAR_BASIC = _b64("har-user:" + "AzSaqBeLbO1ohE")
HAR_QUERY_TOKEN = "SzD4F5eJC7k6TophuMhvX_FxQmNBTq9qC61kAiTG"
NESTED_JSON_PASSWORD = "Nested-Js0n-" + "02NFbfHH"
NEWLINE_JSON_SECRET = "NtCOnWF_hHmUKJLtoCcnSFv5SZMmQeaA77kaEj72"
DOUBLE_JSON_PASSWORD = "Double-Js0n-" + "KDXHkamd"
BYTES_TOKEN = "TmX3nxGHN_NxpThnn3GdqIfl04ZwZ31X8rxw-Vpv"
LONG_REPR_SECRET = "sk-live-" + "dta2UpuWk4G5Gm9vdqWxEgMXtvVd4sBxwjR6Usdg"
LONG_STRING_TOKEN = "XzRlj89FtET7hI0qo2uADc7V0fWCX7Sfq66AR2F84QeM4fQ2"
KW_PW = "Kw-pw-" + "Ddcd70D7Gp"
KW_PASSCODE = "63671120"
KW_PIN = "307824"
KW_SSN = "536-22-8147"
KW_CREDIT_CARD = "4539 5260 1815 9083"
KW_CARD_NUMBER = "5425913909960304"
KW_CVV = "739"
STR_SUBCLASS_TOKEN = "SGiug1dxI_8kxYjIPQwFHAG7bnFAtsNDEEVnn6S_"
SET_TOKEN = (
    "sk_live_"
    + "51"
    + (
        "h15fLg2GxsmXr4m4pxrfp6wMMQo3ImjPFyB8nfM24Aa9ojKTUJZEeA1qFuU3AECo"
        "nQEEwPSPFnEctKzEVZLxapWHY9fwo9Tk7"
    )
)
TUPLE_KEY_BODY = (
    "aa1Jz0nJ8IV7fNYAZ5bFeMY7hyLrhy93qKv8_qnk7BkAjWXaaYL-XWZm669Y0lZ_tKHXUnCncI0a6NWYJZe3wrg1lNpvi"
) + "AA"
URLSPLIT_PASSWORD = "Spl1t-Pa55-" + "FzX1wW"
SIMPLE_COOKIE_SID = "91ICeTl9sNkdydHylwXzeEJllDS2RwcM"
DATACLASS_PASSWORD = "Dc-Pa55-" + "Cig0IpT5"
EXCEPTION_PASSWORD = "Exc-Pa55-" + "XP6Ye36b"

# A log of exactly 4,076 chars, then a bearer token that straddles char 4,096, then more log.
LONG_STRING = (
    ("GET /health 200 0.4ms\n" * 200)[:4054]
    + "Authorization: Bearer "
    + LONG_STRING_TOKEN
    + "\n"
    + "GET /health 200 0.3ms\n" * 20
)


class _LongRepr:
    """A live client whose repr runs past 1,024 chars, the secret straddling char 1,024."""

    def __repr__(self) -> str:
        return "x" * 1000 + "api_key='" + LONG_REPR_SECRET + "'"


class _Text(str):
    """A str subclass (as URL and path types of some libraries are)."""


@dataclass
class _DbConfig:
    host: str
    user: str
    password: str


STRUCTURED: list[tuple[str, Any | Callable[[], Any], tuple[str, ...]]] = [
    ("token-as-dict-key", {KEY_TOKEN: "alice"}, (KEY_TOKEN,)),
    (
        "token-as-nested-dict-key",
        {"owners": {"sk-ant-api03-" + NESTED_KEY_BODY: "team-ml"}},
        (NESTED_KEY_BODY,),
    ),
    (
        "argv-password-api-key-and-p",
        ["mysql", "--password", ARGV_PASSWORD, "--api-key", ARGV_API_KEY, "-p" + ARGV_MYSQL_P],
        (ARGV_PASSWORD, ARGV_API_KEY, ARGV_MYSQL_P),
    ),
    (
        "argv-curl-user",
        ["curl", "-u", "deploy:" + ARGV_CURL_PASSWORD, "https://jenkins.acme.io/api/json"],
        (ARGV_CURL_PASSWORD,),
    ),
    (
        "argv-docker-login",
        ["docker", "login", "-u", "acmebot", "-p", ARGV_DOCKER_PAT],
        (ARGV_DOCKER_PAT,),
    ),
    (
        "argv-env-assignment",
        ["env", "PGPASSWORD=" + ARGV_ENV_PASSWORD, "psql", "-h", "db.internal"],
        (ARGV_ENV_PASSWORD,),
    ),
    (
        "header-tuples",
        lambda: [
            ("Authorization", "Bearer " + TUPLE_HEADER_BEARER),
            ("X-Api-Key", TUPLE_HEADER_API_KEY),
        ],
        (TUPLE_HEADER_BEARER, TUPLE_HEADER_API_KEY),
    ),
    (
        "header-byte-tuples",
        lambda: [
            (b"authorization", b"Bearer " + BYTES_HEADER_BEARER.encode()),
            (b"x-api-key", BYTES_HEADER_API_KEY.encode()),
        ],
        (BYTES_HEADER_BEARER, BYTES_HEADER_API_KEY),
    ),
    (
        "kubernetes-env",
        [
            {"name": "DB_PASSWORD", "value": K8S_DB_PASSWORD},
            {"name": "API_TOKEN", "value": K8S_API_TOKEN},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        (K8S_DB_PASSWORD, K8S_API_TOKEN),
    ),
    (
        "har-headers",
        [
            {"name": "Cookie", "value": f"sid={HAR_SID}; csrftoken={HAR_CSRF}"},
            {"name": "Authorization", "value": "Basic " + HAR_BASIC},
            {"name": "Accept", "value": "application/json"},
        ],
        (HAR_SID, HAR_CSRF, HAR_BASIC),
    ),
    (
        "har-query-string",
        {
            "method": "GET",
            "url": "https://api.acme.io/v1/me",
            "queryString": [{"name": "access_token", "value": HAR_QUERY_TOKEN}],
        },
        (HAR_QUERY_TOKEN,),
    ),
    (
        "json-after-prefix",
        "HTTP 400: " + json.dumps({"credentials": {"user": "a", "password": NESTED_JSON_PASSWORD}}),
        (NESTED_JSON_PASSWORD,),
    ),
    (
        "json-after-newline",
        "request failed\n"
        + json.dumps({"client_id": "acme-etl", "client_secret": NEWLINE_JSON_SECRET}),
        (NEWLINE_JSON_SECRET,),
    ),
    (
        "json-inside-json",
        json.dumps({"body": json.dumps({"user": "etl", "password": DOUBLE_JSON_PASSWORD})}),
        (DOUBLE_JSON_PASSWORD,),
    ),
    ("non-utf8-bytes", b"\xff\xfe token=" + BYTES_TOKEN.encode(), (BYTES_TOKEN,)),
    ("repr-longer-than-1024", _LongRepr, (LONG_REPR_SECRET,)),
    ("string-longer-than-4096", LONG_STRING, (LONG_STRING_TOKEN,)),
    ("kwarg-pw", Kwargs(pw=KW_PW), (KW_PW,)),
    ("kwarg-passcode", Kwargs(passcode=KW_PASSCODE), (KW_PASSCODE,)),
    ("kwarg-pin", Kwargs(pin=KW_PIN), (KW_PIN,)),
    ("kwarg-ssn", Kwargs(ssn=KW_SSN), (KW_SSN,)),
    ("kwarg-credit-card", Kwargs(credit_card=KW_CREDIT_CARD), (KW_CREDIT_CARD,)),
    ("kwarg-card-number", Kwargs(card_number=KW_CARD_NUMBER), (KW_CARD_NUMBER,)),
    ("kwarg-cvv", Kwargs(cvv=KW_CVV), (KW_CVV,)),
    (
        "str-subclass",
        _Text("GET https://api.acme.io/v1/me?access_token=" + STR_SUBCLASS_TOKEN),
        (STR_SUBCLASS_TOKEN,),
    ),
    ("set-member", lambda: {"deploy", "read-only", SET_TOKEN}, (SET_TOKEN,)),
    (
        "tuple-key",
        lambda: {("prod", "sk-ant-api03-" + TUPLE_KEY_BODY): "primary"},
        (TUPLE_KEY_BODY,),
    ),
    (
        "urlsplit-result",
        lambda: urllib.parse.urlsplit(
            f"postgresql://app:{URLSPLIT_PASSWORD}@db.internal:5432/app?sslmode=require"
        ),
        (URLSPLIT_PASSWORD,),
    ),
    ("simple-cookie", lambda: SimpleCookie(f"sessionid={SIMPLE_COOKIE_SID}"), (SIMPLE_COOKIE_SID,)),
    (
        "dataclass-repr",
        lambda: _DbConfig("db.internal", "app", DATACLASS_PASSWORD),
        (DATACLASS_PASSWORD,),
    ),
    (
        "exception-argument",
        lambda: ConnectionError(
            f"auth failed for postgresql://app:{EXCEPTION_PASSWORD}@db.internal/app"
        ),
        (EXCEPTION_PASSWORD,),
    ),
]

# == ordinary values =========================================================================

PEM_PUBLIC_KEY = _armor(
    "PUBLIC KEY",
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
    + (
        "MNtKK++hbYUT/9QYZvLPHIzdzorMEfdWJYN/G6UDb+4bWFTeoiS/enmhXQfkPmUp"
        "ZrbPAzxyXOp1f4whSINwE4PSx0uVm7ZHm6m70Dm+XcYkNDeXTEKgIWyCBPGabVqu"
        "626IIZQ4FRu4P/AgUPfVp84mMLCKsMQfXWvGLt91dP36BTHLX/96tQMRzwBibi13"
        "pShkK0bxU4zvFyAEIePAXSJ4CslZXj4Pme8zfTm8+x9rXdnHV2aGvmgyRh9uxbfP"
        "pmp+W6BI0DpTBp1dVzHyEERnl1FOZXedrTxIRs8zYj4Zam9yO9RfHL8bfFNRj61J"
        "jNlqGfRx/7NUMoBo6V5SQc"
    )
    + "IDAQAB",
)
PEM_CERTIFICATE = _armor(
    "CERTIFICATE",
    "MIIDdzCCAl+gAwIBAgIEbUGzXjANBgkqhkiG9w0BAQsFADBs"
    + (
        "0ZzjsYcmCiSQTMta+FSzEgL8SCLMUhROmHAnXHqe0OT1HIDzzLxjlnqSimhjApRL"
        "xpPNyRPdGxH2UOsRI4oyRJexCVF2unxmHwCILc1o9hAwWZ/hL48hk57/jF1BGB0d"
        "P1Av2IIrTniPqJBjRp8gcdGsCdT/hGdl2JnYqVX3tjS9DS+RbgCzVya65FpP/i9R"
        "/K3K0f7opF+vwWBhsbJzw/omNVI9m1MgkXt7vi/al+g1Tr3GBZpirSwv/i0gfmr5"
        "9Q6YavC20/XtXMmoLbo3zlgYmeVbbJQcpGH/CM+ZXpFOd+sSMEptCSSMEPOrWEEv"
        "n1nGio/DDNRHj9baIEP+WgURHz10MmS5KVJRwj/8J1RpoEA6LxN+781HnbBVY/kn"
        "nVjE0EeUDBXhSynVKQhFqSjxxvAmwwigZ8yNKRP+lIhPaU8Rm3UWMErcFwoFYJMQ"
        "RgzZPeJ9sBfWapvROm5+kn9gdB8JMWzIRMQh6M6OmaHsNFcOw8nPrzZEuNpy6dlY"
        "vOw5jTJ03jXeFwbk8NklbGH7Ydd0F4yBlvZ+hXHfzgCK36TE0rNulSNHbdBtRvKr"
        "ry0fWIkakNBxVz3+WI3ymLRnTgdxueOQESbAe0BkHg+6IZsWooylrvPeqdbgFloO"
        "tm3Qbx+npIjAoM6rzlGXy2Do/qmJ9dUdu5QM0znyC21AfRbDpqvnvu41Zyz0Hnpp"
        "RW3Z/uYAQD6LcCoGsVtWKi6xMLKcgZtuSu0eZsyR6j0dRQfA+lp5kG5xHzqltmpr"
        "j/Qymt00s68mVJqJGJopc6BlZnzQyED/dtCyerVv6rcnnV/9RmFjdX3w1xqTJALv"
        "/AVstF6UPwdMQ4mUDIb0td39F4VLBBfWyNEL6PN8awH+J/8oc0zyv8AETn98Jrrv"
        "yD7U43gUqvwQ5nnKIdXAL666envbBvvrKSvxBsyP7lJM/AnObU9pjUd7WkqqqPcI"
        "tipA8xad5TiZaj3lzSjqkf6IdsM6KAf4H7n00PZqHci44lwp"
    ),
)
SSH_ED25519_PUBLIC = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
    + "BwiY00TtxSgL4uAxupe1qs9NDKWBS1dJsGZRt674atC"
    + " alice@laptop"
)
SSH_RSA_PUBLIC = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC"
    + (
        "2Uf96SqkVpOAupVXNl1wf/BTpM2aJ1E6DyJmGk+thfxOeB6+3zLvCtADvYoemUNG"
        "N94mT81W0E8S1ivHmn0gIfMWXuxvJMl8xbLa7gq533Oy0uNbFuPn0AhLUSUTvd/M"
        "i/0aMeghWhu5P0LpGDU3zeWkvHFL2k/1VeE6HrtBWSC9GUCy1Z6+P3OVNeNbGJF5"
        "630p7/jjREQnVFIdykmMiPdSnJdUKlpRvzUFuviN2YazNNKbhavvGEr9AcZcqwzL"
        "85yc72s++PDkR+ggG+h/XicPWOB1bbcyBZ1cYwDpxjlzIIC+u0wFTmKogtAqA31B"
        "6smcQ5DXoCY+TwwF43I16972R99cKaemqXsA0QHqbTz2dwBe3dHZm4BZdCqbAjJs"
        "xGK13Zx6PzTraHkk8lVHKxZv74tZSOtcUVoqD2TU5kzYleVqeWtzZtNuu8Mvyj+W"
        "QZJsX6C7Jhyqs4pqbvkRblYIHV+OtpAbW4naC6lKM3v/fh3CMXTJSUUc6L"
    )
    + "= deploy@ci"
)
PNG_DATA_URI = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf"
    "DwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

ORDINARY: list[tuple[str, Any]] = [
    # identifiers
    ("id", "74897ac3-8c5d-44c5-8f31-f2317fe8ba40"),
    ("request_id", "70106fe7-468b-40f6-a83b-9b327ddd94f5"),
    ("session_id", "282a532d-0f3c-4c5e-8806-f514164ac7b4"),
    ("run_id", "run-" + "29e8e6ccdec5"),
    ("trace_id", "062a9aa3c6bd98e08f1b5da04c8ea87d"),
    ("span_id", "72469bed815caa5f"),
    ("git_sha", "2ebcf2a28438af40d07ed83ae6a5eb6698014f7d"),
    ("commit", "a1b2c3d"),
    ("sha256", "c5ebb50522ca9f40444ff824a22a5b35c4107d42678d5534e8f485794e3f3a57"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
    (
        "image",
        "ghcr.io/acme/api@sha256:"
        + "7f01b4c6a78b82c59859775f8d036b3c0bc089437e8c66cb287bab47d634119d",
    ),
    ("digest", "sha256:" + "cae207946d4ef9c0893db252b9c5b8e20c473844d017b94b1c897a595fdbf068"),
    ("etag", '"33a64df551425fcc55e4d42a148795d9f25f89d4"'),
    ("customer_id", "cus_" + "VlpSC87mp7znkn"),
    ("conversation_id", "conv_" + "da0f647e6237"),
    ("message_id", "msg_01" + "ZUoGhR2aDkE02397C0jaBp"),
    ("tool_use_id", "toolu_01" + "Hf7QzbAlncItq8jSme0hpi"),
    ("file_id", "file-" + "6x4dQWniycDCSnCVIbGKUn"),
    ("assistant_id", "asst_" + "Wd1lm6NxSZULqgZAOVYgl6Nz"),
    ("order_id", "ORD-2026-000123"),
    ("invoice", "INV-000451"),
    ("snowflake_id", "1187654321098765432"),
    ("tracking_number", "1Z999AA10123456784"),
    ("isbn", "978-0-306-40615-7"),
    # token counts and limits
    ("token_count", 1532),
    ("token_usage", {"input_tokens": 812, "output_tokens": 301}),
    ("input_token_limit", 200000),
    ("max_tokens", 4096),
    ("prompt_tokens", 812),
    ("completion_tokens", 301),
    ("total_tokens", 1113),
    ("cache_read_input_tokens", 1024),
    ("tokens_per_second", 87.5),
    ("tokenizer", "cl100k_base"),
    ("token_type", "Bearer"),
    ("token_endpoint", "https://oauth2.googleapis.com/token"),
    # password and secret words in plain settings
    ("password_min_length", 12),
    ("password_expiry_days", 90),
    ("password_reset_url", "https://acme.io/account/reset-password"),
    ("secretary", "Jane Doe"),
    ("secretName", "db-credentials"),
    ("secret_name", "prod/db-credentials"),
    ("env_from", {"secretKeyRef": {"name": "db-credentials", "key": "password"}}),
    ("auth_method", "oauth2"),
    ("keyboard_layout", "us"),
    ("key", "exports/2026/01/report.csv"),
    ("keys", ["id", "name", "email"]),
    ("kms_key_id", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    # paths and URLs
    ("path", "/run/secrets/db_password"),
    ("path", "/home/alice/.ssh/id_ed25519.pub"),
    ("path", "~/.aws/credentials"),
    ("config_file", "/etc/acme/secrets.yaml"),
    ("file", "src/auth/token_refresh.py"),
    ("windows_path", "C:\\Users\\alice\\AppData\\Local\\Temp\\build.log"),
    ("glob", "src/**/*.py"),
    ("url", "https://api.github.com/repos/acme/api/pulls?page=2&per_page=50"),
    ("repo", "https://alice@github.com/acme/api.git"),
    ("url", "https://docs.python.org/3/library/secrets.html"),
    ("url", "https://acme.io/reset-password?step=2"),
    ("endpoint", "https://api.openai.com/v1/chat/completions"),
    ("auth_url", "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&scope=openid"),
    ("s3_uri", "s3://acme-data/exports/2026/01/01/part-0000.parquet"),
    ("arn", "arn:aws:iam::123456789012:role/deploy"),
    ("arn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"),
    ("dsn", "postgresql://db.internal:5432/app"),
    ("dsn", "postgresql://app@db.internal:5432/app"),
    ("redis_url", "redis://cache.internal:6379/0"),
    ("mongo_uri", "mongodb+srv://cluster0.ab1cd.mongodb.net/?retryWrites=true&w=majority"),
    ("vault_path", "secret/data/prod/db"),
    # messages
    ("message", "Unexpected token: 'EOF'"),
    ("message", "Bearer authentication required"),
    ("message", "token_limit: 2048"),
    ("message", "Invalid password for user bob"),
    ("message", "Password must be at least 12 characters"),
    ("message", "session expired, please log in again"),
    ("message", "401 Unauthorized: missing Authorization header"),
    ("message", "rate limit exceeded: 40000 tokens per minute"),
    ("message", "Token refresh succeeded for user alice"),
    ("message", "The API key was rotated on 2026-01-01; no action needed"),
    ("error", "ConnectionRefusedError: [Errno 111] Connection refused"),
    ("error", "KeyError: 'password'"),
    ("error", 'FATAL:  password authentication failed for user "app"'),
    ("error", "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
    ("error", 'HTTP 404: {"error": "not_found", "message": "Repository not found"}'),
    ("log", "2026-01-01T12:00:00Z INFO worker: started"),
    ("log", "2026-01-01T12:00:01Z WARN retry: attempt 2/5 after 500 ms"),
    ("status_text", "Payment succeeded"),
    # keys and blobs that are public
    ("data_uri", PNG_DATA_URI),
    ("ssh_public_key", SSH_ED25519_PUBLIC),
    ("ssh_public_key", SSH_RSA_PUBLIC),
    ("public_key", PEM_PUBLIC_KEY),
    ("certificate", PEM_CERTIFICATE),
    ("cursor", "eyJpZCI6MTIzfQ=="),
    ("next_cursor", "eyJpZCI6NDU2LCJ0cyI6IjIwMjYtMDEtMDFUMTI6MDA6MDBaIn0="),
    ("base64_text", "SGVsbG8sIFdvcmxkIQ=="),
    # times, numbers, versions
    ("timestamp", "2026-01-01T12:00:00Z"),
    ("created_at", "2026-01-01T12:00:00.123456+00:00"),
    ("epoch_ms", 1767268800000),
    ("epoch_ms_text", "1767268800000"),
    ("duration", "PT1H30M"),
    ("cron", "*/5 * * * *"),
    ("phone", "+1 415-555-0132"),
    ("phone", "+44 20 7946 0958"),
    ("version", "1.2.3"),
    ("version", "2.0.0-rc.1+build.5"),
    ("semver_range", "^4.17.21"),
    ("api_version", "2024-06-01"),
    ("amount", "19.99 USD"),
    ("card_last4", "4242"),
    ("zip", "94105"),
    ("coordinates", "48.8566, 2.3522"),
    ("port", 5432),
    # models, hosts, people
    ("model", "claude-sonnet-4-5"),
    ("model", "gpt-4o-mini-2024-07-18"),
    ("model", "meta-llama/Llama-3.1-8B-Instruct"),
    ("hostname", "ip-10-0-1-23.ec2.internal"),
    ("ip", "192.168.1.20"),
    ("ipv6", "2001:db8::8a2e:370:7334"),
    ("mac", "3c:22:fb:9a:1e:07"),
    ("email", "jane.doe@example.com"),
    ("author", "author: Jane Doe"),
    ("animal", "monkey"),
    ("aws_region", "us-east-1"),
    ("bucket", "acme-prod-artifacts"),
    ("docker_image", "postgres:16-alpine"),
    ("npm_package", "@acme/auth-client@2.3.1"),
    ("locale", "en_US.UTF-8"),
    ("color", "#1a2b3c"),
    # config and commands
    ("config", "max_tokens=512"),
    ("config", "keyboard: qwerty"),
    ("env_line", "NODE_ENV=production"),
    ("env_line", "LOG_LEVEL=debug"),
    ("yaml", "replicas: 3"),
    ("yaml", "image: nginx:1.27-alpine"),
    ("ini", "[database]\nhost = db.internal\nport = 5432\n"),
    ("xml", "<timeout>30</timeout>"),
    ("json_text", '{"max_tokens": 512, "temperature": 0.2}'),
    ("json_text", '{"token_type": "Bearer", "expires_in": 3600}'),
    ("header", "Content-Type: application/json; charset=utf-8"),
    ("header", "Accept: application/vnd.github+json"),
    ("header", 'WWW-Authenticate: Bearer realm="api", error="invalid_token"'),
    ("user_agent", "python-requests/2.32.3"),
    (
        "user_agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    ),
    ("command", "git push origin main"),
    ("command", "pytest -q -k 'not slow'"),
    ("command", "docker run --rm -p 8080:80 nginx:1.27"),
    ("command", "kubectl get secrets -n prod"),
    ("command", "ssh -i ~/.ssh/id_ed25519 deploy@10.0.0.5"),
    ("command", "psql -h db.internal -U app -d app"),
    ("query", "SELECT id, name FROM users WHERE created_at > '2026-01-01' LIMIT 50"),
    ("sql", "UPDATE users SET password_hash = $1 WHERE id = $2"),
    ("html", '<input type="password" name="password" autocomplete="current-password">'),
    ("regex", r"^(?=.*\d)(?=.*[A-Z]).{12,}$"),
    ("markdown", "## Authentication\nSend `Authorization: Bearer <token>` with every request."),
    # prose
    ("text", "The quick brown fox jumps over the lazy dog."),
    ("description", "Summarise the quarterly report in three bullet points."),
    ("prompt", "Translate 'good morning' into French."),
    ("note", "Remember to rotate the token before Friday."),
    ("note", "Use a password manager for shared accounts."),
    ("note", "The secret to good bread is patience."),
    ("note", "Our API keys are stored in Vault, never in the repo."),
]
