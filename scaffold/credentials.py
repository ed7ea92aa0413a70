"""The credentials of a project's DVC remote (``scaffold new`` and ``scaffold add remote``):
per-user secrets, written only to the git-ignored ``.dvc/config.local`` (see scaffold/remotes.py
for where each setting goes)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scaffold.errors import ScaffoldError
from scaffold.resources import PACKAGED_TEMPLATE, Template

# Which DVC option a credentials file becomes, per remote type.
CREDENTIALS_FILE_KEY = {"s3": "credentialpath", "gcs": "credentialpath", "ssh": "keyfile"}


@dataclass(frozen=True)
class Credentials:
    """Per-user secrets for a remote; written only to .dvc/config.local."""

    access_key_id: str = ""
    secret_access_key: str = ""
    credentials_file: Path | None = None

    @property
    def given(self) -> bool:
        """True when any credential was given."""
        return bool(self.access_key_id or self.secret_access_key or self.credentials_file)


def credential_options(
    remote_type: str, credentials: Credentials, cwd: Path | None = None
) -> dict[str, str]:
    """The .dvc/config.local options for ``credentials`` on a ``remote_type`` remote."""
    if not credentials.given:
        return {}
    if remote_type == "none":
        raise ScaffoldError("there is no remote for the credentials (dvc_remote is 'none').")
    if remote_type == "local":
        raise ScaffoldError("a local remote takes no credentials; drop the credential options.")
    options = _access_key_options(remote_type, credentials)
    if credentials.credentials_file is not None:
        key = CREDENTIALS_FILE_KEY.get(remote_type)
        if key is None:
            raise ScaffoldError(
                "azure remotes take credentials from the environment "
                "(AZURE_STORAGE_CONNECTION_STRING, ...) or `az login`, not from a file."
            )
        options[key] = _credentials_file(credentials.credentials_file, cwd or Path.cwd())
    return options


def _access_key_options(remote_type: str, credentials: Credentials) -> dict[str, str]:
    """``access_key_id`` and ``secret_access_key`` (s3 only, both or neither)."""
    keys = (credentials.access_key_id, credentials.secret_access_key)
    if not any(keys):
        return {}
    if remote_type != "s3":
        raise ScaffoldError(
            f"an access key id and secret access key are for s3 remotes, not '{remote_type}'."
        )
    if not all(keys):
        raise ScaffoldError("give both the access key id and the secret access key.")
    for value in keys:
        if value != value.strip() or any(not char.isprintable() for char in value):
            raise ScaffoldError("access keys must be one line without spaces around them.")
        if "'" in value and '"' in value:
            raise ScaffoldError("access keys must not contain both kinds of quotes.")
    return dict(zip(("access_key_id", "secret_access_key"), keys, strict=True))


def _credentials_file(given: Path, cwd: Path) -> str:
    """The absolute path of an existing credentials file (``~`` expanded, relative to
    ``cwd``)."""
    path = cwd / Path(os.path.expanduser(given))
    if path.is_dir():
        raise ScaffoldError(
            f"credentials file {given} is a folder; give the file "
            "itself (e.g. ~/.aws/credentials or a key file)."
        )
    if not path.is_file():
        raise ScaffoldError(f"credentials file {given} does not exist.")
    return str(path.resolve())


def store_credentials(
    project: Path, options: dict[str, str], template: Template = PACKAGED_TEMPLATE
) -> tuple[str, ...]:
    """Write ``options`` for a new project's default remote (made by ``template``) to its
    .dvc/config.local."""
    module = template.dvc_remote
    dvc_dir = project / ".dvc"
    if not (dvc_dir / module.CONFIG).is_file():
        raise ScaffoldError(
            "DVC was not set up (dvc or git missing), so the credentials have nowhere to go."
        )
    module.write_local(dvc_dir, module.DEFAULT_REMOTE, options)
    return tuple(options)
