"""``.env.example`` documents every variable the settings read, and nothing stale."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from cardflow.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    variables = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices)
        variables.add(str(alias.choices[0]))
    assert variables - documented == set(), "settings missing from .env.example"
    assert documented - variables - {"PREFECT_API_URL"} == set(), ".env.example lists unknown variables"


def test_env_example_copied_to_dotenv_loads(tmp_path, monkeypatch) -> None:
    """A user who copies the template unchanged gets the embedded defaults, not an error."""
    from cardflow.settings import load_settings

    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.warehouse == "duckdb" and s.uses_embedded_postgres and not s.uses_s3
