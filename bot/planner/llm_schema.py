"""What the model must answer, as pydantic models, and their conversion to the domain's Plan.

Every field is required and no extra field is allowed, which is what OpenAI's strict structured
outputs demand; the JSON schema sent with the request is generated from these models, so the
schema and the parser can never disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.domain.models import ArchitecturePack, Plan, WorkItem

Estimate = Literal["XS", "S", "M", "L", "XL"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LlmComponent(_Strict):
    name: str
    responsibility: str


class LlmArchitecture(_Strict):
    overview: str
    components: list[LlmComponent]
    data_flow: list[str]
    interfaces: list[str]
    risks: list[str]
    open_questions: list[str]


class LlmDependencyReason(_Strict):
    """Why an item is blocked by another: what it uses from it, in one line."""

    key: str
    reason: str


class LlmWorkItem(_Strict):
    key: str
    title: str
    body: str
    requirement_ids: list[str]
    depends_on: list[str]
    # One entry per key in depends_on. Required in the schema sent to the model (see
    # strict_json_schema); an answer without it still parses, and verification flags each edge
    # it leaves without a reason (unjustified_dependency).
    dependency_reasons: list[LlmDependencyReason] = []
    labels: list[str]
    estimate: Estimate
    acceptance_criteria: list[str]
    # Why the item exists: which requirement text it serves and how.
    rationale: str


class LlmPlan(_Strict):
    summary: str
    architecture: LlmArchitecture
    items: list[LlmWorkItem]


class LlmChunkSummary(_Strict):
    """A long PRD's part, condensed for the planning call."""

    summary: str
    requirement_ids: list[str]


def strict_json_schema(model: type[BaseModel], name: str) -> dict[str, object]:
    """The model's JSON schema in the form strict structured outputs accept, titled `name`."""
    schema = _strict(model.model_json_schema())
    assert isinstance(schema, dict)
    schema["title"] = name
    return schema


def _strict(node: Any) -> Any:
    # Pydantic puts a "title" on every property; they cost tokens and say nothing the names don't.
    # Strict mode wants every property required and no defaults, even where the parser has one.
    if isinstance(node, dict):
        out = {
            k: _strict(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str)) and not (k == "default" and "type" in node)
        }
        if isinstance(out.get("properties"), dict):
            out["required"] = list(out["properties"])
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


PLAN_SCHEMA = strict_json_schema(LlmPlan, "pass_plan")
SUMMARY_SCHEMA = strict_json_schema(LlmChunkSummary, "pass_prd_summary")


def to_domain(plan: LlmPlan) -> Plan:
    arch = plan.architecture
    return Plan(
        summary=plan.summary.strip(),
        architecture=ArchitecturePack(
            overview=arch.overview.strip(),
            components=[{"name": c.name, "responsibility": c.responsibility} for c in arch.components],
            data_flow=arch.data_flow,
            interfaces=arch.interfaces,
            risks=arch.risks,
            open_questions=arch.open_questions,
        ),
        items=[
            WorkItem(
                key=item.key.strip(),
                title=item.title.strip(),
                body=item.body.strip(),
                requirement_ids=item.requirement_ids,
                depends_on=item.depends_on,
                dependency_reasons={
                    r.key: r.reason.strip()
                    for r in item.dependency_reasons
                    if r.key in item.depends_on and r.reason.strip()
                },
                labels=item.labels,
                estimate=item.estimate,
                acceptance_criteria=item.acceptance_criteria,
                rationale=item.rationale.strip(),
            )
            for item in plan.items
        ],
    )
