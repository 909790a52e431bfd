"""The one place the environment is read.

`Settings()` is built once in the entry point and passed down; no other module reads
`os.environ`. Secrets are `SecretStr` so they never reach a log line or a repr.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "passbot"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")

    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    model: str = Field(default="gpt-4o-mini", validation_alias=AliasChoices("PASS_MODEL"))

    github_token: SecretStr | None = Field(default=None, validation_alias="GITHUB_TOKEN")
    github_api_url: str = Field(default="https://api.github.com", validation_alias="GITHUB_API_URL")
    github_repo: str | None = Field(default=None, validation_alias="PASS_GITHUB_REPO")

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias="PASS_DATA_DIR")
    policy_dir: Path = Field(default=Path("policies"), validation_alias="PASS_POLICY_DIR")
    http_port: int = Field(default=3000, validation_alias="PASS_HTTP_PORT")
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="PASS_WEBHOOK_SECRET")
    github_webhook_secret: SecretStr | None = Field(default=None, validation_alias="PASS_GITHUB_WEBHOOK_SECRET")
    # More webhook sources, each with its own secret: "ci=secret1,jira=secret2" (header X-Pass-Source).
    webhook_source_secrets: SecretStr | None = Field(default=None, validation_alias="PASS_WEBHOOK_SOURCES")
    # Seals each approval event (HMAC) so that one written straight into Redis does not count.
    # Unset: a key made once under PASS_DATA_DIR for the embedded Redis; with REDIS_URL, every
    # process sharing that Redis needs the same value (without it approvals are not sealed).
    approval_key: SecretStr | None = Field(default=None, validation_alias="PASS_APPROVAL_KEY")
    log_format: str = Field(default="auto", validation_alias="PASS_LOG_FORMAT")
    log_level: str = Field(default="info", validation_alias="PASS_LOG_LEVEL")

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())

    @property
    def github_configured(self) -> bool:
        return self.github_token is not None and bool(self.github_token.get_secret_value())

    def webhook_secrets(self) -> dict[str, str]:
        """Secrets by webhook source; PASS_WEBHOOK_SECRET is the source named "default"."""
        secrets: dict[str, str] = {}
        if self.webhook_secret and self.webhook_secret.get_secret_value():
            secrets["default"] = self.webhook_secret.get_secret_value()
        if self.webhook_source_secrets:
            for pair in self.webhook_source_secrets.get_secret_value().split(","):
                name, _, secret = pair.partition("=")
                if name.strip() and secret.strip():
                    secrets[name.strip()] = secret.strip()
        return secrets

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"
