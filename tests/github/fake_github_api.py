"""A stateful stand-in for the GitHub REST API on 127.0.0.1, for PyGithub to talk to over HTTP.

Response bodies are GitHub's own recorded shapes (tests/fixtures/github/, from PyGithub's replay
data) with the fields that matter replaced. It records every request with its arrival time on
the server's clock, and can be told to misbehave once: answer a rate limit, fail with a 5xx,
or store an issue and then answer too late for the client.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from markdown_it import MarkdownIt

FIXTURES = Path(__file__).parent.parent / "fixtures" / "github"
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}

# What GitHub links in the text of a body (not in code, not in HTML): "@login", "@org/team",
# "#123" and "owner/repo#123", each at a start or after a character that is not part of a word.
_LIVE_MENTION = re.compile(r"(?:^|(?<=[^\w`]))@[A-Za-z0-9][A-Za-z0-9-]*(?:/[\w.-]+)?")
_LIVE_REFERENCE = re.compile(r"(?:^|(?<=[^\w&/#]))(?:[\w.-]+/[\w.-]+)?#\d+")
_TEXT_TOKENS = {"text", "text_special"}


def live_references(body: str | None) -> list[str]:
    """The mentions and issue references GitHub would turn live in `body`, read as CommonMark.

    Entities are decoded first (markdown-it does, as GitHub does), so "@&#8203;x" reads as
    "@" + zero-width space + "x", which GitHub does not link.
    """
    found: list[str] = []
    for block in MarkdownIt("commonmark").parse(body or ""):
        if block.type != "inline" or block.children is None:
            continue
        text = "".join(t.content if t.type in _TEXT_TOKENS else " " for t in block.children)
        found += _LIVE_MENTION.findall(text) + _LIVE_REFERENCE.findall(text)
    return found


@dataclass(frozen=True)
class Exchange:
    verb: str
    path: str
    status: int
    headers: list[tuple[str, str]]
    body: str


def load_replay(name: str) -> list[Exchange]:
    lines = (FIXTURES / name).read_text().split("\n")
    exchanges = []
    for start in range(0, len(lines) - 10, 11):
        block = lines[start : start + 11]
        exchanges.append(
            Exchange(
                verb=block[1],
                path=block[4],
                status=int(block[7]),
                headers=ast.literal_eval(block[8]),
                body=block[9],
            )
        )
    return exchanges


def _shape(name: str, verb: str, path_end: str) -> dict[str, Any]:
    exchange = next(e for e in load_replay(name) if e.verb == verb and e.path.endswith(path_end))
    shape: dict[str, Any] = json.loads(exchange.body)
    return shape


REPO_SHAPE = _shape("Issue.setUp.txt", "GET", "/repos/PyGithub/PyGithub")
ISSUE_SHAPE = _shape("Issue.setUp.txt", "GET", "/issues/28")
USER_SHAPE = _shape("Repository.testCreateIssueWithAllArguments.txt", "GET", "/users/jacquev6")
MILESTONE_SHAPE = _shape("Repository.testCreateIssueWithAllArguments.txt", "GET", "/milestones/2")
LABEL_SHAPE = _shape("Repository.testCreateIssueWithAllArguments.txt", "GET", "/labels/Question")
CREATED_HEADERS = dict(next(e for e in load_replay("Repository.testCreateIssue.txt") if e.verb == "POST").headers)

SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach "
    "out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
)


@dataclass
class Fault:
    """One misbehaviour, used by the first request that matches `method` and `path_suffix`."""

    method: str
    path_suffix: str
    status: int = 500
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # True: do the work (store the issue), then answer late: the client has already given up.
    act_then_stall: float | None = None


@dataclass
class Request:
    at: float  # time.monotonic() when the server received it
    method: str
    path: str
    status: int


@dataclass
class FakeRepo:
    owner: str
    name: str
    private: bool = False
    has_issues: bool = True
    archived: bool = False
    permissions: dict[str, bool] = field(
        default_factory=lambda: {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}
    )
    issues: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    milestones: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub:
    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, str | None]] = {}  # token -> (login, X-OAuth-Scopes or None)
        self.repos: dict[str, FakeRepo] = {}
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self._closing = asyncio.Event()
        self._server: TestServer | None = None
        self.base_url = ""

    # ---- set-up -------------------------------------------------------------------------------

    def add_token(self, token: str, login: str = "octo", scopes: str | None = "repo") -> None:
        self.tokens[token] = (login, scopes)

    def add_repo(self, full_name: str, **kwargs: Any) -> FakeRepo:
        owner, name = full_name.split("/")
        repo = FakeRepo(owner=owner, name=name, **kwargs)
        self.repos[full_name] = repo
        return repo

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.base_url = str(self._server.make_url("")).rstrip("/")
        return self.base_url

    async def close(self) -> None:
        self._closing.set()  # wake stalled handlers so shutdown does not wait for them
        if self._server is not None:
            await self._server.close()

    # ---- what happened ------------------------------------------------------------------------

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in WRITE_METHODS]

    def issue_writes(self) -> list[Request]:
        return [r for r in self.writes() if r.path.endswith("/issues")]

    # ---- HTTP ---------------------------------------------------------------------------------

    def _web(self, path: str) -> str:
        return f"https://github.test{path}"

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        all_headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "core",
            **(headers or {}),
        }
        return web.json_response(body, status=status, headers=all_headers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # Recorded on arrival: a stalled request counts even if the client gave up on it.
        record = Request(time.monotonic(), request.method, request.path, status=0)
        self.requests.append(record)
        response = await self._route(request)
        record.status = response.status
        return response

    async def _route(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if token not in self.tokens:
            return self._reply(
                401,
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
            )
        login, scopes = self.tokens[token]
        extra = {"X-OAuth-Scopes": scopes} if scopes is not None else {}

        fault = next(
            (f for f in self.faults if f.method == request.method and request.path.endswith(f.path_suffix)),
            None,
        )
        if fault is not None:
            self.faults.remove(fault)
            if fault.act_then_stall is None:
                return self._reply(fault.status, fault.body, {**extra, **fault.headers})

        response = await self._dispatch(request, login)
        if fault is not None and fault.act_then_stall is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.act_then_stall)
        for key, value in extra.items():
            response.headers[key] = value
        return response

    async def _dispatch(self, request: web.Request, login: str) -> web.Response:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["user"]:
            return self._reply(200, {**copy.deepcopy(USER_SHAPE), "login": login, "url": f"{self.base_url}/user"})
        if len(parts) < 3 or parts[0] != "repos" or f"{parts[1]}/{parts[2]}" not in self.repos:
            return self._reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        repo = self.repos[f"{parts[1]}/{parts[2]}"]
        rest = parts[3:]
        method = request.method
        if rest == [] and method == "GET":
            return self._reply(200, self._repo_json(repo))
        if rest == ["labels"] and method == "GET":
            return self._paged(request, list(repo.labels.values()))
        if rest == ["labels"] and method == "POST":
            return self._create_label(repo, await request.json())
        if rest == ["milestones"] and method == "GET":
            return self._paged(request, repo.milestones)
        if rest == ["milestones"] and method == "POST":
            return self._create_milestone(repo, await request.json())
        if rest == ["issues"] and method == "GET":
            return self._paged(request, self._filter_issues(repo, request))
        if len(rest) == 2 and rest[0] == "issues" and method == "GET":
            found = [i for i in repo.issues if str(i["number"]) == rest[1]]
            if found:
                return self._reply(200, found[0])
        if rest == ["issues"] and method == "POST":
            return self._create_issue(repo, await request.json(), login)
        if len(rest) == 2 and rest[0] == "issues" and method == "PATCH":
            found = [i for i in repo.issues if str(i["number"]) == rest[1]]
            if found:
                return self._update_issue(repo, found[0], await request.json())
        return self._reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def _paged(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        per_page = int(request.query.get("per_page", "30"))
        page = int(request.query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = {**request.query, "page": str(page + 1), "per_page": str(per_page)}
            next_url = request.url.with_query(query)
            headers["Link"] = f'<{self.base_url}{next_url.path_qs}>; rel="next"'
        return self._reply(200, chunk, headers)

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        text = json.dumps(REPO_SHAPE).replace("https://api.github.com", self.base_url)
        text = text.replace("PyGithub/PyGithub", repo.full_name)
        data: dict[str, Any] = json.loads(text)
        data.update(
            name=repo.name,
            full_name=repo.full_name,
            private=repo.private,
            visibility="private" if repo.private else "public",
            has_issues=repo.has_issues,
            archived=repo.archived,
            permissions=dict(repo.permissions),
            url=f"{self.base_url}/repos/{repo.full_name}",
            html_url=self._web(f"/{repo.full_name}"),
        )
        return data

    def _create_label(self, repo: FakeRepo, payload: dict[str, Any]) -> web.Response:
        name = payload["name"]
        if name in repo.labels:
            return self._reply(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Label", "code": "already_exists", "field": "name"}],
                },
            )
        label = {
            **copy.deepcopy(LABEL_SHAPE),
            "name": name,
            "color": payload.get("color", "ededed"),
            "description": payload.get("description"),
            "url": f"{self.base_url}/repos/{repo.full_name}/labels/{name}",
        }
        repo.labels[name] = label
        return self._reply(201, label)

    def _create_milestone(self, repo: FakeRepo, payload: dict[str, Any]) -> web.Response:
        number = len(repo.milestones) + 1
        milestone = {
            **copy.deepcopy(MILESTONE_SHAPE),
            "number": number,
            "id": 9000 + number,
            "title": payload["title"],
            "open_issues": 0,
            "closed_issues": 0,
            "url": f"{self.base_url}/repos/{repo.full_name}/milestones/{number}",
        }
        repo.milestones.append(milestone)
        return self._reply(201, milestone)

    def _create_issue(self, repo: FakeRepo, payload: dict[str, Any], login: str) -> web.Response:
        number = len(repo.issues) + 1
        labels = []
        for name in payload.get("labels", []):
            # GitHub creates an unknown label on the fly for users with push access.
            labels.append(repo.labels.setdefault(name, {**copy.deepcopy(LABEL_SHAPE), "name": name}))
        milestone = None
        if payload.get("milestone") is not None:
            milestone = next(m for m in repo.milestones if m["number"] == payload["milestone"])
        api = f"{self.base_url}/repos/{repo.full_name}"
        text = json.dumps(ISSUE_SHAPE).replace("https://api.github.com/repos/PyGithub/PyGithub", api)
        issue: dict[str, Any] = json.loads(text)
        issue.update(
            number=number,
            id=100000 + number,
            title=payload["title"],
            body=payload.get("body"),
            labels=labels,
            milestone=milestone,
            state="open",
            url=f"{api}/issues/{number}",
            html_url=self._web(f"/{repo.full_name}/issues/{number}"),
            user={**issue["user"], "login": login},
        )
        repo.issues.append(issue)
        return self._reply(
            201, issue, {"Location": f"{api}/issues/{number}", "ETag": CREATED_HEADERS.get("etag", '"x"')}
        )

    def _update_issue(self, repo: FakeRepo, issue: dict[str, Any], payload: dict[str, Any]) -> web.Response:
        for field_name in ("title", "body", "state"):
            if field_name in payload:
                issue[field_name] = payload[field_name]
        if "labels" in payload:
            issue["labels"] = [
                repo.labels.setdefault(name, {**copy.deepcopy(LABEL_SHAPE), "name": name}) for name in payload["labels"]
            ]
        return self._reply(200, issue)

    def _filter_issues(self, repo: FakeRepo, request: web.Request) -> list[dict[str, Any]]:
        state = request.query.get("state", "open")
        wanted = [w for w in request.query.get("labels", "").split(",") if w]
        issues = [
            i
            for i in repo.issues
            if (state == "all" or i["state"] == state)
            and all(any(label["name"] == w for label in i["labels"]) for w in wanted)
        ]
        if request.query.get("direction", "desc") == "desc":
            issues = list(reversed(issues))
        return issues
