"""The `passbot` command.

Exit codes (DESIGN.md): 0 staged or synced, 2 bad input (one line on stderr), 3 blocked or
verification failed, 1 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot import __version__
from bot.adapters.leases import RunLeases, held
from bot.adapters.redis_store import RedisRunStore
from bot.bootstrap import Container, build
from bot.console import render_outcome, render_run, render_verification
from bot.domain.approval_evidence import state_without_events
from bot.domain.audit import AuditEvent
from bot.domain.models import Run, Source, utcnow
from bot.domain.status import RunStatus
from bot.domain.windows import parse_since
from bot.errors import BadInput, ConfigError, PassError, RunNotFound, StoreUnavailable
from bot.logging import configure_logging
from bot.settings import Settings

if TYPE_CHECKING:  # only for an annotation: `passbot` imports what a command needs when it runs
    from bot.domain.digest import Digest

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_BLOCKED = 0, 1, 2, 3


def _exit_code(run: Run) -> int:
    if run.status in {RunStatus.AWAITING_APPROVAL, RunStatus.APPROVED, RunStatus.SYNCED, RunStatus.REJECTED}:
        return EXIT_OK
    if run.status is RunStatus.BLOCKED:
        return EXIT_BLOCKED
    return EXIT_ERROR


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _read_prd(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc


def _ask_approval(run: Run, target: str) -> bool:
    """The stop-line at the terminal. Prompt on stderr so `--json` keeps stdout clean."""
    items = len(run.plan.items) if run.plan else 0
    try:
        # Two handles: a terminal is not seekable, so one "r+" text stream cannot both write and read.
        with open("/dev/tty", "w", encoding="utf-8") as out, open("/dev/tty", encoding="utf-8") as answer:
            out.write(f"\nApprove run {run.run_id} and create {items} issue(s) in {target}? [y/N] ")
            out.flush()
            return answer.readline().strip().lower() in {"y", "yes"}
    except OSError:
        return False


def _sync_target(c: Container, repo: str | None) -> str:
    if c.syncer.target_kind == "dry-run":
        return "a dry run (nothing is written to GitHub)"
    return repo or "(no repo: pass --repo or set PASS_GITHUB_REPO)"


def _leases(c: Container) -> RunLeases:
    return RunLeases(c.store.client, ttl_s=c.policies.limits.worker_lease_ttl_s)


_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")


async def cmd_plan(c: Container, args: argparse.Namespace) -> int:
    raw = _read_prd(args.file)
    repo = args.repo or c.settings.github_repo
    if repo is not None and not _REPO.match(repo):
        source = "--repo" if args.repo else "PASS_GITHUB_REPO"
        raise BadInput(f"{source} must be OWNER/NAME, not {repo[:80]!r}")
    run, _ = await c.runs.submit(raw, source=Source.CLI, requester=f"cli:{getpass.getuser()}", repo=repo)
    # Driven here, not by a worker: the lease keeps workers' crash recovery from taking it over.
    async with held(_leases(c), run.run_id):
        return await _plan_in_foreground(c, args, run, repo)


async def _plan_in_foreground(c: Container, args: argparse.Namespace, run: Run, repo: str | None) -> int:
    run = await c.runs.execute(run.run_id)
    if run.status is RunStatus.AWAITING_APPROVAL:
        if not args.json:
            print(render_run(run))
        approved = args.yes or (sys.stdin.isatty() and _ask_approval(run, _sync_target(c, repo)))
        if approved:
            synced = await _approve_and_sync(c, run, yes=args.yes, update=args.update)
            if synced is None:
                # Refused (the reason is on stderr); --json still prints exactly one run object.
                if args.json:
                    print(json.dumps((await c.store.get(run.run_id)).contract()))
                return EXIT_ERROR
            run = synced
            if not args.json:
                print()
                print(render_outcome(run))
        elif not args.json:
            print(f"\nNot approved: the plan is staged. Approve later with: passbot approve {run.run_id} --yes")
    elif not args.json:
        print(render_run(run))
    if args.json:
        print(json.dumps(run.contract()))
    return _exit_code(run)


async def cmd_approve(c: Container, args: argparse.Namespace) -> int:
    run = await c.store.get(args.run_id)
    if run.status is not RunStatus.AWAITING_APPROVAL:
        _say(f"Run {run.run_id} is {run.status.value.replace('_', ' ')}; there is nothing to approve.")
        return EXIT_ERROR
    if not args.yes:
        if not sys.stdin.isatty():
            _say("Not approved: no terminal to ask at. Add --yes to approve non-interactively (recorded as such).")
            return EXIT_ERROR
        if not _ask_approval(run, _sync_target(c, run.repo)):
            _say("Not approved.")
            return EXIT_ERROR
    async with held(_leases(c), run.run_id):
        synced = await _approve_and_sync(c, run, yes=args.yes, update=args.update)
    if synced is None:
        return EXIT_ERROR
    print(render_run(synced))
    return _exit_code(synced)


async def _approve_and_sync(c: Container, run: Run, *, yes: bool, update: bool = False) -> Run | None:
    """The operator's approval of a CLI run (recorded with how it was given), then the sync.
    None when the approval is refused (the reason is on stderr). A PRD already synced to the repo
    is skipped unless `update` (--update): then those issues are rewritten from this plan."""
    outcome = await c.approvals.approve(
        run.run_id,
        user=f"cli:{getpass.getuser()}",
        via="cli --yes" if yes else "cli prompt",
        plan_hash=run.plan_hash,
        operator=True,
        on_earlier="update" if update else "skip",
    )
    if not outcome.accepted:
        _say(outcome.message)
        return None
    return await c.runs.sync(run.run_id)


async def cmd_reject(c: Container, args: argparse.Namespace) -> int:
    outcome = await c.approvals.reject(args.run_id, user=f"cli:{getpass.getuser()}", reason=args.reason, via="cli")
    _say(outcome.message)
    return EXIT_OK if outcome.accepted else EXIT_ERROR


async def cmd_status(c: Container, args: argparse.Namespace) -> int:
    if args.run_id:
        run = await c.store.get(args.run_id)
        print(json.dumps(run.contract()) if args.json else render_run(run))
        return EXIT_OK
    runs = await c.store.list_runs(limit=args.limit)
    if args.json:
        print(json.dumps([r.contract() for r in runs]))
        return EXIT_OK
    if not runs:
        print("No runs yet. Start one with: passbot plan examples/todo-prd.md")
    for run in runs:
        title = run.prd.title[:60] if run.prd else ""
        print(f"{run.run_id}  {run.status.value:<18} {run.created_at:%Y-%m-%d %H:%M}  {title}")
    return EXIT_OK


async def state_problems(store: RedisRunStore, events: list[AuditEvent]) -> list[str]:
    """Runs whose stored state the (whole) chain does not account for, and per-run event copies
    that are not in the chain (written to fake an approval for the sync's check)."""
    runs = await store.list_runs(limit=10_000_000)
    problems = state_without_events(runs, events)
    chained = {e.hash for e in events}
    for run in runs:
        forged = [e for e in await store.run_events(run.run_id) if e.hash not in chained]
        if forged:
            problems.append(f"run {run.run_id} has {len(forged)} event(s) of its own that are not in the chain")
    return problems


async def cmd_audit(c: Container, args: argparse.Namespace) -> int:
    from bot.domain.audit import check_chain

    if args.audit_command == "verify":
        # The head first: a writer racing with us can only add events after it (see check_chain).
        head = await c.store.audit_head()
        entries = await c.store.audit_entries()
        check = check_chain(entries, head=head)
        if check.whole:
            problems = await state_problems(c.store, [AuditEvent.model_validate_json(raw) for _, raw in entries])
            for problem in problems:
                print(f"state without event: {problem}")
            if problems:
                print(f"audit chain whole: {check.events} event(s), but {len(problems)} run(s) disagree with it")
                return EXIT_ERROR
            print(f"audit chain whole: {check.events} event(s); every run's state matches its events")
            return EXIT_OK
        where = f"event {check.broken_id}" if check.position else f"the end (after event {check.broken_id})"
        if check.position:
            where += f" (#{check.position} of {check.events} read)"
        if check.event is not None:
            where += f", {check.event.action} of run {check.event.run_id or '-'} at {check.event.at.isoformat()}"
        print(f"audit chain BROKEN at {where}: {check.why}")
        return EXIT_ERROR
    since = parse_since(args.since, now=utcnow()) if args.since else None
    if args.run and await c.store.find(args.run) is None:
        raise RunNotFound(args.run)
    unreadable = 0
    for stream_id, raw in await c.store.audit_entries():
        try:
            event = AuditEvent.model_validate_json(raw)
        except ValidationError:
            # A SIEM must hear about it, but one bad entry must not hide all the others.
            unreadable += 1
            _say(f"passbot: audit event {stream_id} cannot be read; run `passbot audit verify`")
            continue
        if (args.run and event.run_id != args.run) or (since is not None and event.at < since):
            continue
        print(json.dumps({"id": stream_id, **event.model_dump(mode="json")}))
    return EXIT_ERROR if unreadable else EXIT_OK


async def cmd_verify(c: Container, args: argparse.Namespace) -> int:
    """Shift-left repo verification: lint, types, tests, security, each in the sandbox."""
    from bot.bootstrap import build_command_policy
    from bot.services.repo_checks import RepoChecks

    result = await RepoChecks.from_settings(c.settings, build_command_policy(c.settings), c.store).verify(args.target)
    if args.json:
        print(json.dumps(result.to_json()))
        return EXIT_OK if result.passed else EXIT_BLOCKED
    print(render_verification(result))
    return EXIT_OK if result.passed else EXIT_BLOCKED


async def cmd_token(c: Container, args: argparse.Namespace) -> int:
    from bot.adapters.api_tokens import ApiTokenStore, parse_scopes

    tokens = ApiTokenStore(c.store.client)
    action = args.token_command
    if action == "create":
        secret = await tokens.create(args.name, parse_scopes(args.scopes))
        _say(f"Token {args.name!r} created. It is shown once; PASS keeps only its hash.")
        print(secret)
        return EXIT_OK
    if action == "revoke":
        if await tokens.revoke(args.name):
            _say(f"Token {args.name!r} revoked.")
            return EXIT_OK
        _say(f"No token named {args.name!r}.")
        return EXIT_BAD_INPUT
    for known in await tokens.list():
        print(f"{known.name}  {','.join(sorted(known.scopes))}  created {known.created_at:%Y-%m-%d %H:%M}")
    return EXIT_OK


async def cmd_digest(c: Container, args: argparse.Namespace) -> int:
    """Post one digest to a channel now (the schedule is not moved), or print it with --print."""
    from bot.bootstrap import build_digest_service
    from bot.slack.digest_blocks import digest_blocks, digest_text

    service = build_digest_service(c, _NoSender() if args.print else None)
    if args.print:
        digest = await service.preview(args.channel)
        print(json.dumps({"text": digest_text(digest), "blocks": digest_blocks(digest)}, indent=2))
        return EXIT_OK
    sent = await service.send_now(args.channel)
    _say(f"Digest posted to {args.channel}: {digest_text(sent.digest)}")
    return EXIT_OK


class _NoSender:
    async def post(self, digest: Digest) -> None:
        raise AssertionError("--print never posts")


async def cmd_stats(c: Container, args: argparse.Namespace) -> int:
    from bot.domain.metrics import metrics_summary
    from bot.domain.windows import parse_window
    from bot.stats_text import render_stats

    window = parse_window(args.window)
    now = utcnow()
    runs = await c.store.list_runs(limit=100_000, since=now - window)
    summary = metrics_summary(runs, args.window, now=now)
    print(summary.model_dump_json() if args.json else render_stats(summary))
    return EXIT_OK


async def cmd_serve(c: Container, args: argparse.Namespace) -> int:
    from bot.entrypoints.web.server import serve

    port = args.port or c.settings.http_port
    try:
        await serve(c, port=port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} is in use: choose another with --port or PASS_HTTP_PORT") from exc
        raise
    return EXIT_OK


async def cmd_worker(c: Container, args: argparse.Namespace) -> int:
    from bot.entrypoints.worker import work

    await work(c, concurrency=args.concurrency)
    return EXIT_OK


async def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    """Builds its own container: its own Redis, Slack token and signing secret (bot/entrypoints/dev/runner.py)."""
    from bot.entrypoints.dev.runner import run_dev

    await run_dev(settings, port=args.port, approvals=args.approvals, announce=lambda line: print(line, flush=True))
    return EXIT_OK


async def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 1 when a required part is missing: Redis and the policies always, the parts named by
    --require, and those the settings show are meant to be used (e.g. Slack half set up)."""
    from bot.entrypoints.doctor import (
        PARTS,
        intended_parts,
        missing_required,
        render,
        run_checks,
        to_json,
        with_required,
    )

    asked = {p.strip() for p in (args.require or "").split(",") if p.strip()}
    unknown = sorted(asked - PARTS.keys())
    if unknown:
        raise BadInput(f"--require takes {', '.join(PARTS)}; not {', '.join(unknown)}")
    checks = with_required(await run_checks(settings), asked | intended_parts(settings))
    print(json.dumps(to_json(checks)) if args.json else render(checks))
    return EXIT_ERROR if missing_required(checks) else EXIT_OK


UPDATE_HELP = "when this PRD was already synced to the repo, rewrite those issues (default: skip, write nothing)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="passbot", description="PASS: plan, verify and stage work from a PRD; ship only after a human approves."
    )
    parser.add_argument("--version", action="version", version=f"passbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="run the whole flow on a PRD file in the foreground")
    plan.add_argument("file", help="PRD as markdown or plain text ('-' reads stdin)")
    plan.add_argument("--repo", help="target GitHub repo OWNER/NAME (default: PASS_GITHUB_REPO)")
    plan.add_argument("--yes", action="store_true", help="approve non-interactively (recorded as such)")
    plan.add_argument("--dry-run", action="store_true", help="never write to GitHub; stage files instead")
    plan.add_argument("--json", action="store_true", help="print only the run object as JSON on stdout")
    plan.add_argument(
        "--update",
        action="store_true",
        help=UPDATE_HELP,
    )

    approve = sub.add_parser("approve", help="approve a staged CLI run and sync it")
    approve.add_argument("run_id", help="the run id `passbot plan` printed")
    approve.add_argument("--yes", action="store_true", help="approve without asking (recorded as such)")
    approve.add_argument(
        "--update",
        action="store_true",
        help=UPDATE_HELP,
    )

    reject = sub.add_parser("reject", help="reject a staged run")
    reject.add_argument("run_id", help="the run to reject")
    reject.add_argument("--reason", default="", help="why (kept in the audit log)")

    status = sub.add_parser("status", help="show one run, or the latest runs")
    status.add_argument("run_id", nargs="?", help="one run in full (default: a list of the latest)")
    status.add_argument("--json", action="store_true", help="the run object(s) as JSON")
    status.add_argument("--limit", type=int, default=20, help="how many runs to list (default 20)")

    audit = sub.add_parser("audit", help="verify or export the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="exit 0 when the chain is whole, 1 naming the first broken event")
    export = audit_sub.add_parser("export", help="JSON lines, one event each")
    export.add_argument("--run", help="only this run's events")
    export.add_argument(
        "--since", help="only events at or after T: ISO time (UTC unless it has an offset), a date, or 24h / 7d ago"
    )

    token = sub.add_parser("token", help="API bearer tokens for POST /api/runs and GET /api/runs/{id}")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="print a new token once (only its hash is stored)")
    create.add_argument("--name", required=True, help="a name to recognise and revoke it by")
    create.add_argument("--scopes", default="runs:write,runs:read", help="runs:write, runs:read (none can approve)")
    token_sub.add_parser("list", help="names, scopes and creation times (never the tokens)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name", help="the token's name")

    verify = sub.add_parser("verify", help="run a repo's lint, type, test and security checks in the sandbox")
    verify.add_argument("target", help="a local path, a git URL, or owner/name[@ref]")
    verify.add_argument("--json", action="store_true", help="the full report as JSON")

    digest = sub.add_parser("digest", help="post a digest to a Slack channel now (policies/digests.yml)")
    digest.add_argument("--channel", required=True, help="Slack channel id (C…)")
    digest.add_argument("--print", action="store_true", help="print the digest's Block Kit JSON, post nothing")

    stats = sub.add_parser("stats", help="lead time, pass rate, retries, tokens, time to diagnosis")
    stats.add_argument("window", nargs="?", default="7d", help="7d (default), 30d, or any N[mhdw]")
    stats.add_argument("--json", action="store_true", help="print the metrics as one JSON object")

    serve = sub.add_parser("serve", help="the Slack app (Socket Mode or HTTP), webhooks, API and /healthz")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default: PASS_HTTP_PORT, 3000)")

    worker = sub.add_parser("worker", help="run queued jobs: planning and syncing (run one or more beside serve)")
    worker.add_argument("--concurrency", type=int, default=4, help="jobs at once in this process (default 4)")

    doctor = sub.add_parser("doctor", help="check every requirement of a deployment and print the fix for each")
    doctor.add_argument("--json", action="store_true", help="one JSON object: ok, missing_required, checks")
    doctor.add_argument(
        "--require",
        metavar="PARTS",
        help="also require these optional parts, comma-separated: slack, github, llm, sandbox",
    )

    dev = sub.add_parser("dev", help="try the whole Slack flow in a browser, with a local stand-in for Slack")
    dev.add_argument("--port", type=int, default=3100, help="port of the page and the Slack stand-in (default 3100)")
    dev.add_argument(
        "--approvals",
        choices=("dev", "policy"),
        default="dev",
        help="dev: members of @approvers (alice, bob) may approve; policy: PASS_POLICY_DIR's approvals.yml",
    )
    return parser


Handler = Callable[[Container, argparse.Namespace], Awaitable[int]]
HANDLERS: dict[str, Handler] = {
    "plan": cmd_plan,
    "approve": cmd_approve,
    "reject": cmd_reject,
    "status": cmd_status,
    "audit": cmd_audit,
    "verify": cmd_verify,
    "token": cmd_token,
    "digest": cmd_digest,
    "stats": cmd_stats,
    "serve": cmd_serve,
    "worker": cmd_worker,
}


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "doctor":
        return await cmd_doctor(settings, args)
    if args.command == "dev":
        return await cmd_dev(settings, args)
    # Building may start the embedded redis-server and wait for it: off the event loop.
    container = await asyncio.to_thread(build, settings, dry_run=getattr(args, "dry_run", False))
    try:
        return await HANDLERS[args.command](container, args)
    except StoreUnavailable as exc:
        hint = (
            "check REDIS_URL, or unset it to use the embedded server" if settings.redis_url else "see redis.log there"
        )
        raise StoreUnavailable(f"{exc} ({container.redis.description}); {hint}") from exc
    finally:
        await container.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "a setting"
        _say(f"passbot: environment variable {name}: {first['msg']}")
        return EXIT_BAD_INPUT
    configure_logging(settings.log_level, settings.log_format)
    try:
        code = asyncio.run(_main(args, settings))
        sys.stdout.flush()  # here, where a reader gone away (BrokenPipeError) is caught below
        return code
    except BadInput as exc:
        _say(f"passbot: {exc}")
        return EXIT_BAD_INPUT
    except RunNotFound as exc:
        _say(f"passbot: {exc}")
        return EXIT_BAD_INPUT
    except (ConfigError, StoreUnavailable) as exc:
        _say(f"passbot: {exc}")
        return EXIT_ERROR
    except PassError as exc:
        _say(f"passbot: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("passbot: interrupted")
        return 130
    except BrokenPipeError:
        # `passbot status | head`: the reader has what it wanted. Python would print a traceback
        # when it flushes stdout at exit; point stdout at /dev/null so there is nothing to flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
