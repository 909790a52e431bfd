"""`passbot doctor`: every requirement of a deployment, each ok or missing with the exact fix."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.adapters.redis_server import connect
from bot.adapters.redis_store import RedisRunStore
from bot.errors import ConfigError
from bot.policies import load_policies
from bot.sandbox.isolation import IsolationLevel, detect_isolation
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


def sandbox_check(level: IsolationLevel, bwrap: str | None) -> Check:
    """The level a sandboxed command really starts at here: bwrap on PATH is not enough (a container
    runtime may refuse it the user namespace or the fresh /proc it mounts)."""
    if level is IsolationLevel.BWRAP:
        return Check("sandbox", True, f"bubblewrap ({bwrap}): no network, read-only root", required=False)
    if bwrap:
        why = (
            f"bubblewrap ({bwrap}) is installed but cannot start a box here (user namespaces or mounting "
            "/proc refused); in a container: podman run --security-opt unmask=/proc/*"
        )
    else:
        why = "install bubblewrap: apt-get install bubblewrap"
    return Check("sandbox", False, f"falling back to {level.label}; {why}", required=False)


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

    checks.append(sandbox_check(await detect_isolation(), shutil.which("bwrap")))

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
