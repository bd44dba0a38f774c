"""Secrets come from the environment or a 0600 secrets file, never from config, and never print."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from gfm.config import Config
from gfm.secrets import SecretsError, expand_placeholders, placeholder, read_secret, require_secret

SECRET = "s3cret-Value-no-one-may-see"


def _secrets_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(f"GFM_REDIS_PASSWORD: {SECRET}\n")
    os.chmod(path, mode)
    return path


def test_the_environment_comes_before_the_secrets_file(tmp_path: Path) -> None:
    path = _secrets_file(tmp_path)
    assert read_secret("GFM_REDIS_PASSWORD", path, environ={}) == SECRET
    assert read_secret("GFM_REDIS_PASSWORD", path, environ={"GFM_REDIS_PASSWORD": "env"}) == "env"
    assert read_secret("GFM_REDIS_PASSWORD", environ={"GFM_SECRETS_FILE": str(path)}) == SECRET
    assert read_secret("GFM_OTHER", path, environ={}) is None
    assert read_secret("GFM_REDIS_PASSWORD", environ={}) is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secrets_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = _secrets_file(tmp_path, mode)
    with pytest.raises(SecretsError, match="chmod 600"):
        read_secret("GFM_REDIS_PASSWORD", path, environ={})


def test_a_missing_secret_names_the_variable_not_a_value(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="GFM_MILVUS_WRITER_PASSWORD") as info:
        require_secret("GFM_MILVUS_WRITER_PASSWORD", "the Milvus writer", environ={})
    assert info.value.name == "GFM_MILVUS_WRITER_PASSWORD"


def test_a_broken_secrets_file_does_not_quote_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(f"GFM_REDIS_PASSWORD: [{SECRET}\n")
    os.chmod(path, 0o600)
    with pytest.raises(SecretsError) as info:
        read_secret("GFM_REDIS_PASSWORD", path, environ={})
    assert SECRET not in str(info.value)


def test_placeholders_are_filled_only_in_memory() -> None:
    settings = {"online": {"connection_string": f"h:1,password={placeholder('GFM_REDIS_PASSWORD')}"}, "n": 3}
    filled = expand_placeholders(settings, {"GFM_REDIS_PASSWORD": SECRET})
    assert filled["online"]["connection_string"] == f"h:1,password={SECRET}"
    assert settings["online"]["connection_string"] == "h:1,password=${GFM_REDIS_PASSWORD}"
    assert expand_placeholders("${UNKNOWN}", {}) == "${UNKNOWN}"


def test_config_refuses_passwords_and_does_not_echo_them() -> None:
    for features in (
        {"registry_url": f"postgresql+psycopg://gfm:{SECRET}@db:5432/feast"},
        {"redis_connection": f"redis:6379,password={SECRET}"},
    ):
        with pytest.raises(ValidationError) as info:
            Config.load(environ={}, overrides={"features": features})
        assert SECRET not in str(info.value)


def test_a_config_file_may_not_hold_the_milvus_token(tmp_path: Path) -> None:
    path = tmp_path / "gfm.yaml"
    path.write_text(f"index:\n  token: {SECRET}\n")
    with pytest.raises(ValueError, match="GFM__INDEX__TOKEN") as info:
        Config.load(path, environ={})
    assert SECRET not in str(info.value)


def test_the_token_from_the_environment_is_redacted_in_every_dump(tmp_path: Path) -> None:
    cfg = Config.load(environ={"GFM__INDEX__TOKEN": SECRET, "GFM_SECRETS_FILE": str(tmp_path / "s.yaml")})
    assert cfg.index.token.get_secret_value() == SECRET
    assert cfg.secrets_file == tmp_path / "s.yaml"
    for text in (cfg.to_yaml(), str(cfg.model_dump(mode="json")), cfg.model_dump_json(), repr(cfg)):
        assert SECRET not in text
