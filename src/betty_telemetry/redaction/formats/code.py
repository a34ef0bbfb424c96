"""Source hosting, continuous integration and package registries."""

from __future__ import annotations

from betty_telemetry.redaction.formats._format import (
    ALNUM,
    HEX,
    LOWER_ALNUM,
    URL_SAFE,
    TokenFormat,
    fake,
)

_GITLAB = ("glpat", "gldt", "glrt", "glsoat", "glcbt", "glffct", "glimt", "glagent", "gloas")

FORMATS = (
    TokenFormat(
        "github-token",
        "GitHub",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"gh[pousr]_[A-Za-z0-9]{30,255}",
        "ghp_" + fake(ALNUM, 36, "github-token"),
    ),
    TokenFormat(
        "github-fine-grained-token",
        "GitHub",
        ("github_pat_",),
        r"github_pat_[A-Za-z0-9_]{20,255}",
        "github_pat_" + fake(ALNUM, 22, "github-pat-1") + "_" + fake(ALNUM, 59, "github-pat-2"),
    ),
    TokenFormat(
        "gitlab-token",
        "GitLab",
        (*(f"{prefix}-" for prefix in _GITLAB), "glptt-", "GR1348941"),
        r"(?:(?:" + "|".join(_GITLAB) + r")-[A-Za-z0-9_\-]{20,}|glptt-[a-f0-9]{40}"
        r"|GR1348941[A-Za-z0-9_\-]{20})",
        "glpat-" + fake(URL_SAFE, 20, "gitlab-token"),
    ),
    TokenFormat(
        "bitbucket-app-password",
        "Bitbucket",
        ("ATBB",),
        r"ATBB[A-Za-z0-9_=.\-]{32,}",
        "ATBB" + fake(ALNUM, 32, "bitbucket-app-password"),
    ),
    TokenFormat(
        "atlassian-api-token",
        "Atlassian",
        ("ATATT3", "ATCTT3"),
        r"AT[AC]TT3[A-Za-z0-9_\-=]{100,}",
        "ATATT3" + fake(URL_SAFE, 186, "atlassian-api-token"),
    ),
    TokenFormat(
        "sourcegraph-token",
        "Sourcegraph",
        ("sgp_",),
        r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}",
        "sgp_" + fake(HEX, 16, "sourcegraph-1") + "_" + fake(HEX, 40, "sourcegraph-2"),
    ),
    TokenFormat(
        "circleci-token",
        "CircleCI",
        ("CCIPAT_", "CCIPRJ_"),
        r"CCIP(?:AT|RJ)_[A-Za-z0-9]{22}_[a-f0-9]{40}",
        "CCIPAT_" + fake(ALNUM, 22, "circleci-1") + "_" + fake(HEX, 40, "circleci-2"),
    ),
    TokenFormat(
        "buildkite-token",
        "Buildkite",
        ("bkua_",),
        r"bkua_[a-f0-9]{40}(?![a-f0-9])",
        "bkua_" + fake(HEX, 40, "buildkite-token"),
    ),
    TokenFormat(
        "sonarqube-token",
        "SonarQube",
        ("sqp_", "squ_", "sqa_"),
        r"sq[pua]_[a-f0-9]{40}(?![a-f0-9])",
        "squ_" + fake(HEX, 40, "sonarqube-token"),
    ),
    TokenFormat(
        "npm-token",
        "npm",
        ("npm_",),
        r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])",
        "npm_" + fake(ALNUM, 36, "npm-token"),
    ),
    TokenFormat(
        "pypi-token",
        "PyPI",
        ("pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"),
        r"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,}",
        "pypi-AgEIcHlwaS5vcmc" + fake(URL_SAFE, 140, "pypi-token"),
    ),
    TokenFormat(
        "rubygems-token",
        "RubyGems",
        ("rubygems_",),
        r"rubygems_[a-f0-9]{48}(?![a-f0-9])",
        "rubygems_" + fake(HEX, 48, "rubygems-token"),
    ),
    TokenFormat(
        "docker-hub-token",
        "Docker Hub",
        ("dckr_pat_", "dckr_oat_"),
        r"dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,}",
        "dckr_pat_" + fake(URL_SAFE, 27, "docker-hub-token"),
    ),
    TokenFormat(
        "nuget-api-key",
        "NuGet",
        ("oy2",),
        r"oy2[a-z0-9]{43}(?![a-z0-9])",
        "oy2" + fake(LOWER_ALNUM, 43, "nuget-api-key"),
    ),
    TokenFormat(
        "artifactory-api-key",
        "JFrog Artifactory",
        ("AKCp",),
        r"AKCp[A-Za-z0-9]{69}(?![A-Za-z0-9])",
        "AKCp" + fake(ALNUM, 69, "artifactory-api-key"),
    ),
    TokenFormat(
        "jfrog-identity-token",
        "JFrog",
        ("cmVmdGtu",),
        r"cmVmdGtu[A-Za-z0-9]{56}(?![A-Za-z0-9])",
        "cmVmdGtu" + fake(ALNUM, 56, "jfrog-identity-token"),
    ),
    TokenFormat(
        "clojars-token",
        "Clojars",
        ("CLOJARS_",),
        r"CLOJARS_[a-z0-9]{60}(?![a-z0-9])",
        "CLOJARS_" + fake(LOWER_ALNUM, 60, "clojars-token"),
    ),
    TokenFormat(
        "crates-io-token",
        "crates.io",
        ("cio",),
        r"cio[A-Za-z0-9]{32}(?![A-Za-z0-9])",
        "cio" + fake(ALNUM, 32, "crates-io-token"),
    ),
)
