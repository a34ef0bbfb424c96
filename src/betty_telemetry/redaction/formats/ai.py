"""AI model providers and the tools agents call."""

from __future__ import annotations

from betty_telemetry.redaction.formats._format import (
    ALNUM,
    HEX,
    LETTERS,
    URL_SAFE,
    TokenFormat,
    fake,
)

FORMATS = (
    # Before openai-key: the first format that matches at a place names the rule.
    TokenFormat(
        "anthropic-key",
        "Anthropic",
        ("sk-ant-",),
        r"sk-ant-[A-Za-z0-9_\-]{16,}",
        "sk-ant-api03-" + fake(URL_SAFE, 93, "anthropic-key") + "AA",
    ),
    TokenFormat(
        "langfuse-secret-key",
        "Langfuse",
        ("sk-lf-",),
        r"sk-lf-[A-Za-z0-9\-]{20,}",
        "sk-lf-"
        + "-".join(fake(HEX, n, f"langfuse-{n}-{i}") for i, n in enumerate((8, 4, 4, 4, 12))),
    ),
    TokenFormat(
        "openai-key",
        "OpenAI (and OpenAI-compatible: DeepSeek, OpenRouter...)",
        ("sk-",),
        r"sk-(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_\-]{20,}",
        "sk-" + "proj-" + fake(URL_SAFE, 156, "openai-key"),
    ),
    TokenFormat(
        "elevenlabs-api-key",
        "ElevenLabs",
        ("sk_",),
        r"sk_[a-f0-9]{48}(?![a-f0-9])",
        "sk_" + fake(HEX, 48, "elevenlabs-api-key"),
    ),
    TokenFormat(
        "huggingface-token",
        "Hugging Face",
        ("hf_", "api_org_"),
        r"(?:hf_|api_org_)[A-Za-z]{34}(?![A-Za-z0-9])",
        "hf_" + fake(LETTERS, 34, "huggingface-token"),
    ),
    TokenFormat(
        "groq-api-key",
        "Groq",
        ("gsk_",),
        r"gsk_[A-Za-z0-9]{52}(?![A-Za-z0-9])",
        "gsk_" + fake(ALNUM, 52, "groq-api-key"),
    ),
    TokenFormat(
        "replicate-api-token",
        "Replicate",
        ("r8_",),
        r"r8_[A-Za-z0-9]{37}(?![A-Za-z0-9])",
        "r8_" + fake(ALNUM, 37, "replicate-api-token"),
    ),
    TokenFormat(
        "perplexity-api-key",
        "Perplexity",
        ("pplx-",),
        r"pplx-[A-Za-z0-9]{48}(?![A-Za-z0-9])",
        "pplx-" + fake(ALNUM, 48, "perplexity-api-key"),
    ),
    TokenFormat(
        "xai-api-key",
        "xAI",
        ("xai-",),
        r"xai-[A-Za-z0-9]{80}(?![A-Za-z0-9])",
        "xai-" + fake(ALNUM, 80, "xai-api-key"),
    ),
    TokenFormat(
        "langsmith-api-key",
        "LangSmith",
        ("lsv2_pt_", "lsv2_sk_"),
        r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
        "lsv2_pt_" + fake(HEX, 32, "langsmith-1") + "_" + fake(HEX, 10, "langsmith-2"),
    ),
    TokenFormat(
        "fireworks-api-key",
        "Fireworks AI",
        ("fw_",),
        r"fw_[A-Za-z0-9]{24,}",
        "fw_" + fake(ALNUM, 24, "fireworks-api-key"),
    ),
    TokenFormat(
        "pinecone-api-key",
        "Pinecone",
        ("pcsk_",),
        r"pcsk_[A-Za-z0-9_]{50,}",
        "pcsk_" + fake(ALNUM, 6, "pinecone-1") + "_" + fake(ALNUM, 64, "pinecone-2"),
    ),
    TokenFormat(
        "logfire-write-token",
        "Pydantic Logfire",
        ("pylf_v",),
        r"pylf_v[0-9]_[a-z]{2,4}_[A-Za-z0-9]{40,}",
        "pylf_v1_us_" + fake(ALNUM, 46, "logfire-write-token"),
    ),
    TokenFormat(
        "tavily-api-key",
        "Tavily",
        ("tvly-",),
        r"tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}(?![A-Za-z0-9])",
        "tvly-" + fake(ALNUM, 32, "tavily-api-key"),
    ),
    TokenFormat(
        "firecrawl-api-key",
        "Firecrawl",
        ("fc-",),
        r"fc-[a-f0-9]{32}(?![a-f0-9])",
        "fc-" + fake(HEX, 32, "firecrawl-api-key"),
    ),
    TokenFormat(
        "e2b-api-key",
        "E2B",
        ("e2b_",),
        r"e2b_[a-f0-9]{40}(?![a-f0-9])",
        "e2b_" + fake(HEX, 40, "e2b-api-key"),
    ),
    TokenFormat(
        "browserbase-api-key",
        "Browserbase",
        ("bb_live_",),
        r"bb_live_[A-Za-z0-9_\-]{27,}",
        "bb_" + "live_" + fake(URL_SAFE, 27, "browserbase-api-key"),
    ),
)
