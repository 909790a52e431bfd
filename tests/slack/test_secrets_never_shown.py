"""A PRD carrying production secrets and a confidential section, planned from Slack (issue #17):
nothing PASS sends to Slack shows a secret, each secret is one finding, and the confidential
section is named with the reason it was withheld."""

from __future__ import annotations

import json

from tests.secret_corpus import leaky_prd
from tests.slack.conftest import Harness

PRD, SECRETS = leaky_prd()


def _everything_sent(harness: Harness) -> str:
    sent = json.dumps([call.params for call in harness.fake.calls])
    sent += json.dumps(harness.fake.responses)
    return sent + "".join(body.decode("utf-8", "replace") for body in harness.fake.uploads.values())


async def test_slack_never_shows_a_secret_says_each_once_and_names_the_confidential_section(harness: Harness) -> None:
    reply = await harness.command(f"plan {PRD}")
    assert reply.status == 200
    await harness.drain()

    sent = _everything_sent(harness)
    for case in SECRETS:
        assert case.shown_parts(sent) == [], case.secret[:4]
    run = await harness.only_run()
    assert run.verification is not None
    secret_findings = [f for f in run.verification.findings if f.check == "secrets"]
    assert len(secret_findings) == len(SECRETS), [f.message for f in secret_findings]
    kinds = " ".join(f.message for f in secret_findings)
    for kind in ("Stripe", "Google API key", "AWS secret access key", "password in a URL"):
        assert kind in kinds
    assert "“Confidential: Pricing experiments” was withheld from the plan" in sent
    assert "40% discount" not in sent
    assert harness.fake.violations == []
