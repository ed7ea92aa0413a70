"""The types of the template's hooks/ modules, as the package calls them.

The hooks/ folder is standard-library Python that plain cookiecutter, cruft and copier run
without scaffold, so the package cannot import it as a package: ``scaffold.resources.Template``
loads its modules by path and returns them as these Protocols. mypy checks the package's calls
against them, and (through ``mypy_path = "hooks"`` in pyproject.toml) checks the packaged
hooks/ modules against them below, so neither side can drift from the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar


class Rules(Protocol):
    """hooks/pre_gen_project.py: the rules every answer must pass."""

    def problems(self, answers: Mapping[str, object]) -> dict[str, str]:
        """Each invalid answer's option name with one sentence (empty: all valid)."""

    def applies(self, option: str, answers: Mapping[str, object]) -> bool:
        """Whether a question means anything given the earlier answers."""

    def remote_type(self, url: str) -> str | None:
        """The DVC remote type a URL names ('local' for a folder); None for an unknown one."""

    def remote_url_problem(self, remote: str, url: str, subject: str = ...) -> str | None:
        """One sentence if ``url`` is not a valid URL for a ``remote`` remote."""

    def endpoint_url_problem(self, remote: str, endpoint: str, subject: str = ...) -> str | None:
        """One sentence if ``endpoint`` (an S3-compatible store's address) is not usable."""

    def profile_problem(self, remote: str, profile: str, subject: str = ...) -> str | None:
        """One sentence if ``profile`` (an AWS credentials profile name) is not usable."""

    def sharing_problems(self, text: dict[str, str]) -> dict[str, str]:
        """The rules of the sharing options (github_repo, app)."""


class DvcConfigFile(Protocol):
    """hooks/dvc_remote.py's ``ConfigFile``: one DVC config file, edited in memory."""

    @property
    def path(self) -> Path:
        """The file."""

    @property
    def lines(self) -> list[str]:
        """Its lines as edited (empty for a file that does not exist)."""

    def has_section(self, section: str) -> bool:
        """Whether the file has ``[section]``."""

    def remove_section(self, section: str) -> None:
        """Drop ``[section]`` and its lines."""

    def text(self) -> str:
        """The file's text as it would be saved."""

    def set(self, section: str, key: str, value: str) -> None:
        """Set ``key`` in ``[section]`` (made when absent)."""

    def save(self, private: bool = False) -> None:
        """Write the file atomically (``private``: readable by its owner alone)."""


ConfigFileT = TypeVar("ConfigFileT", bound=DvcConfigFile)


class DvcRemote(Protocol[ConfigFileT]):
    """hooks/dvc_remote.py: DVC's config files, written the way DVC writes them.

    Generic in its ``ConfigFile`` class: the functions take back the files it made.
    """

    @property
    def CONFIG(self) -> str:  # the module's constant
        """The committed config file's name in .dvc/."""

    @property
    def LOCAL_CONFIG(self) -> str:
        """The git-ignored per-user config file's name in .dvc/."""

    @property
    def DEFAULT_REMOTE(self) -> str:
        """The name of a new project's default remote."""

    def ConfigFile(self, path: Path) -> ConfigFileT:  # the module's class
        """Read one config file (a missing one is empty)."""

    def remote_section(self, name: str) -> str:
        """The section that holds remote ``name``."""

    def stored_url(self, url: str, cwd: Path, dvc_dir: Path) -> str:
        """The ``url`` DVC stores for a remote added from ``cwd``."""

    def scratch_dir(self, dvc_dir: Path) -> Path:
        """DVC's git-ignored scratch folder, created if missing."""

    def recover(self, dvc_dir: Path) -> None:
        """Finish or undo a save that a killed process left half done."""

    def set_remote(
        self,
        config: ConfigFileT,
        local_config: ConfigFileT,
        name: str,
        url: str,
        *,
        default: bool = ...,
        shared: Mapping[str, str] | None = ...,
        local: Mapping[str, str] | None = ...,
    ) -> None:
        """Add remote ``name`` in memory: shared options to ``config``, per-user ones to
        ``local_config``."""

    def save_together(self, files: Sequence[tuple[ConfigFileT, bool]]) -> None:
        """Save ``(file, private)`` pairs of one .dvc folder as one change."""

    def write_local(self, dvc_dir: Path, name: str, options: Mapping[str, str]) -> None:
        """Set per-user ``options`` of remote ``name`` in .dvc/config.local."""


class TemplateSource(Protocol):
    """hooks/template_source.py: where a project's template came from, as copier records it."""

    def git_location(self, source: str) -> str:
        """``source`` without the ``git+`` prefix, which git does not read."""

    def is_url(self, location: str) -> bool:
        """True when ``location`` names a remote repository rather than a folder."""

    def recorded_source(self, source: str) -> str:
        """``source`` as copier reads it: a git URL or an absolute path."""

    def describe(self, git: str, repo: Path) -> dict[str, str]:
        """``_commit`` and ``_src_path`` of the git repo ``repo`` (empty if it is not one)."""

    def read_answers(self, text: str) -> dict[str, object] | None:
        """An answers file's answers in the hook's own format; None for another format."""


class Processes(Protocol):
    """hooks/processes.py: running programs from the hooks (scaffold.processes' twin)."""

    def git_identity(
        self, git: str, name: str, email: str, cwd: Path | None = ...
    ) -> dict[str, str]:
        """``user.name`` and ``user.email`` to commit with when git knows no identity (empty
        when it does); empty ``name`` or ``email`` fall back to scaffold's own."""


class PostGeneration(Protocol):
    """hooks/post_gen_project.py: the steps after rendering (git, DVC, pre-commit)."""

    def finish(self, project: Path, context: dict[str, object]) -> int:
        """Run every step in ``project`` (the current folder): 0, 1 (reported) or 130."""


if TYPE_CHECKING:
    # The packaged hooks/ modules implement these Protocols (mypy finds them on mypy_path).
    import dvc_remote
    import post_gen_project
    import pre_gen_project
    import processes
    import template_source

    _rules: Rules = pre_gen_project
    _dvc_remote: DvcRemote[dvc_remote.ConfigFile] = dvc_remote
    _template_source: TemplateSource = template_source
    _processes: Processes = processes
    _post_generation: PostGeneration = post_gen_project
