"""Secrets: the backing stores' passwords, read from the environment or a secrets file.

The config says *which* secret a store uses (an environment variable name such as
``GFM_REDIS_PASSWORD``) and which user it belongs to; the value itself is read here, only when a
client is built, and is never put into the ``Config`` object. So nothing that prints or dumps the
config (provenance cards, checkpoints, reports, ``gfm`` output, logs) can hold it.

A secret is looked up in the environment first, then in the secrets file: the path in
``Config.secrets_file`` (``GFM_SECRETS_FILE``). That file is a YAML mapping of the same names to
values, e.g. ``GFM_REDIS_PASSWORD: s3cret``, and must be readable by its owner only (mode 0600 or
0400): a file others can read is refused. Keep it out of the repository.

Like ``gfm.config``, this module reads environment variables: secret values are deliberately kept
out of the config object, so they are read where they are used.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gfm.errors import GfmError

__all__ = ["SecretsError", "expand_placeholders", "placeholder", "read_secret", "require_secret"]

SECRETS_FILE_ENV = "GFM_SECRETS_FILE"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SecretsError(GfmError):
    """A secret is missing, or the secrets file is unsafe or unreadable.

    Attributes:
        name: The secret's name (never its value).
    """

    def __init__(self, message: str, *, name: str) -> None:
        self.name = name
        super().__init__(message)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise SecretsError(f"secret name {name!r} is not an environment variable name", name=name)


def _read_file(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SecretsError(f"cannot read the secrets file {path}: {exc.strerror}", name=str(path)) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"the secrets file {path} has mode {stat.S_IMODE(mode):o}: others can read it; "
            f"run `chmod 600 {path}`",
            name=str(path),
        )
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        # the parser's message quotes the offending line, which may hold a value: leave it out
        raise SecretsError(f"the secrets file {path} is not readable YAML", name=str(path)) from None
    if not isinstance(loaded, dict):
        raise SecretsError(f"the secrets file {path} must hold a mapping of names to values", name=str(path))
    return {str(k): str(v) for k, v in loaded.items() if v is not None}


def read_secret(
    name: str, secrets_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Return the secret ``name`` from the environment, else the secrets file; None if neither has it.

    Args:
        name: The secret's name (an environment variable name).
        secrets_file: The secrets file; ``GFM_SECRETS_FILE`` from ``environ`` when None.
        environ: The environment to read (``os.environ`` when None); tests pass their own.

    Returns:
        The value, or None when it is set nowhere (an empty value counts as unset).

    Raises:
        SecretsError: If the name is not a variable name, or the secrets file is unsafe or unreadable.

    """
    _check_name(name)
    env = os.environ if environ is None else environ
    if env.get(name):
        return env[name]
    path = secrets_file or (Path(env[SECRETS_FILE_ENV]) if env.get(SECRETS_FILE_ENV) else None)
    if path is None:
        return None
    return _read_file(Path(path)).get(name) or None


def require_secret(
    name: str, purpose: str, secrets_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """Like ``read_secret``, but a missing secret is an error naming what needs it.

    Raises:
        SecretsError: If the secret is set nowhere, or the secrets file is unsafe or unreadable.

    """
    value = read_secret(name, secrets_file, environ)
    if value is None:
        raise SecretsError(
            f"{purpose} needs the secret {name}: set the environment variable {name} or add it "
            f"to the secrets file ({SECRETS_FILE_ENV})",
            name=name,
        )
    return value


def placeholder(name: str) -> str:
    """``${NAME}``: how a file that must not hold the value (feature_store.yaml) names a secret."""
    _check_name(name)
    return "${" + name + "}"


def expand_placeholders(value: Any, secrets: Mapping[str, str]) -> Any:
    """Replace ``${NAME}`` by ``secrets[NAME]`` in every string of a nested dict/list (a copy).

    Names not in ``secrets`` are left as they are.
    """
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: secrets.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: expand_placeholders(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_placeholders(v, secrets) for v in value]
    return value
