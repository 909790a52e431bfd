"""What GitHub sync needs, as RequirementChecks whose `fix` says exactly what to change and where.

Pure: the facts (token, repository, labels) are gathered by the syncer; this module only judges
them. Check names are stable so that a card or a test can point at one.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from bot.domain.models import RequirementCheck
from bot.services.issue_tracker import RepoInfo, TokenInfo

TARGET = "GitHub target repository named"
TOKEN = "GitHub token accepted"  # noqa: S105 - a check name, not a secret
REPO = "GitHub repository reachable with this token"
ISSUES = "GitHub issues enabled in the repository"
WRITABLE = "GitHub repository not archived"
CREATE_ISSUES = "GitHub token may create issues"
CREATE_LABELS = "GitHub token may create the missing labels"

_REPO_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def web_url(api_url: str) -> str:
    """github.com for api.github.com; the Enterprise host for https://HOST/api/v3."""
    parsed = urlparse(api_url)
    if parsed.hostname == "api.github.com":
        return "https://github.com"
    return f"{parsed.scheme}://{parsed.netloc}"


def _token_advice(web: str, repo: str) -> str:
    return (
        f"classic token ({web}/settings/tokens): scope `repo` (or `public_repo` for a public repository); "
        f"fine-grained token ({web}/settings/personal-access-tokens): Repository access including {repo}, "
        "permissions Issues: Read and write and Metadata: Read"
    )


def ok(name: str) -> RequirementCheck:
    return RequirementCheck(name=name, ok=True)


def target_check(repo: str | None) -> RequirementCheck:
    if repo and _REPO_NAME.match(repo):
        return ok(TARGET)
    given = f" ('{repo}' is not OWNER/NAME)" if repo else ""
    return RequirementCheck(
        name=TARGET,
        ok=False,
        fix=f"Name the repository to write to{given}: `passbot plan --repo OWNER/NAME`, the `repo` field of "
        "the request, or the PASS_GITHUB_REPO setting.",
    )


def token_missing(api_url: str, repo: str) -> RequirementCheck:
    """For bootstrap to show when GITHUB_TOKEN is unset and a real (not dry-run) sync was asked for."""
    return RequirementCheck(
        name=TOKEN,
        ok=False,
        fix=f"GITHUB_TOKEN is not set, so PASS cannot write to {repo or 'GitHub'} at {api_url}. Create a "
        f"token — {_token_advice(web_url(api_url), repo or 'the target repository')} — and set GITHUB_TOKEN.",
    )


def token_refused(api_url: str, repo: str) -> RequirementCheck:
    web = web_url(api_url)
    return RequirementCheck(
        name=TOKEN,
        ok=False,
        fix=f"GitHub at {api_url} refused GITHUB_TOKEN (401 Bad credentials): it is wrong, expired or "
        f"revoked. Create a new one — {_token_advice(web, repo)} — set GITHUB_TOKEN to it and restart PASS.",
    )


def repo_not_found(api_url: str, repo: str) -> RequirementCheck:
    web = web_url(api_url)
    return RequirementCheck(
        name=REPO,
        ok=False,
        fix=f"{repo} was not found at {api_url}, or this token cannot see it (GitHub answers 404 for both). "
        f"Check the name (`--repo OWNER/NAME` or PASS_GITHUB_REPO). For a private repository: a classic "
        f"token needs the `repo` scope ({web}/settings/tokens); a fine-grained token must list {repo} under "
        f"Repository access ({web}/settings/personal-access-tokens); an organisation may first have to "
        "approve the token or authorise it for SSO.",
    )


def repo_forbidden(api_url: str, repo: str, message: str) -> RequirementCheck:
    web = web_url(api_url)
    return RequirementCheck(
        name=REPO,
        ok=False,
        fix=f"GitHub refused access to {repo} ({message}). If the organisation uses SAML SSO, authorise the "
        f"token at {web}/settings/tokens → Configure SSO; if it restricts fine-grained tokens, ask an "
        "organisation owner to approve it.",
    )


def repo_checks(repo: RepoInfo, token: TokenInfo, api_url: str) -> list[RequirementCheck]:
    checks = [ok(REPO)]
    checks.append(
        ok(ISSUES)
        if repo.has_issues
        else RequirementCheck(
            name=ISSUES,
            ok=False,
            fix=f"Issues are turned off for {repo.full_name}: a repository admin turns them on at "
            f"{repo.html_url}/settings → General → Features → Issues.",
        )
    )
    checks.append(
        ok(WRITABLE)
        if not repo.archived
        else RequirementCheck(
            name=WRITABLE,
            ok=False,
            fix=f"{repo.full_name} is archived (read-only): unarchive it at {repo.html_url}/settings → "
            "Danger Zone, or choose another repository.",
        )
    )
    checks.append(create_issues_check(repo, token, api_url))
    return checks


def create_issues_check(repo: RepoInfo, token: TokenInfo, api_url: str) -> RequirementCheck:
    # Only classic tokens say what they may do (X-OAuth-Scopes). Fine-grained and App tokens do
    # not; for them a refused create becomes this same check at sync time (see forbidden_write).
    if token.scopes is None:
        return ok(CREATE_ISSUES)
    enough = {"repo"} if repo.private else {"repo", "public_repo"}
    if enough & set(token.scopes):
        return ok(CREATE_ISSUES)
    kind = "private" if repo.private else "public"
    needed = "`repo`" if repo.private else "`repo` or `public_repo`"
    return RequirementCheck(
        name=CREATE_ISSUES,
        ok=False,
        fix=f"The classic token has scopes [{', '.join(token.scopes) or 'none'}]; creating issues in a "
        f"{kind} repository needs {needed}. Edit the token at {web_url(api_url)}/settings/tokens and "
        "tick it; the token value stays the same.",
    )


def labels_check(repo: RepoInfo, missing: set[str]) -> RequirementCheck:
    # Creating a label needs the Write role; a repo that already has them needs nothing more.
    if not missing or repo.permissions is None or repo.permissions & {"push", "maintain", "admin"}:
        return ok(CREATE_LABELS)
    names = ", ".join(sorted(missing))
    return RequirementCheck(
        name=CREATE_LABELS,
        ok=False,
        fix=f"Labels {names} do not exist in {repo.full_name} and creating labels needs the Write role: give "
        f"the token's user Write access at {repo.html_url}/settings/access, or create the labels by hand at "
        f"{repo.html_url}/labels.",
    )


def forbidden_write(api_url: str, repo: str, message: str) -> RequirementCheck:
    """A write GitHub refused with a plain 403: the token lacks the permission to create issues."""
    return RequirementCheck(
        name=CREATE_ISSUES,
        ok=False,
        fix=f"GitHub refused to create issues in {repo} ({message}). Give the token what it needs — "
        f"{_token_advice(web_url(api_url), repo)} — and approve again: the sync resumes without duplicates.",
    )
