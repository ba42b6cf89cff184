"""Imitation Jira Cloud and GitHub servers for tests, benchmarks and ``quarry up --demo``."""

from .faults import FaultConfig
from .github_data import GithubDataset
from .github_server import GithubConfig, GithubServer
from .http import Counters, SandboxServer
from .jira_data import JiraDataset
from .jira_server import JiraConfig, JiraServer

__all__ = [
    "Counters",
    "FaultConfig",
    "GithubConfig",
    "GithubDataset",
    "GithubServer",
    "JiraConfig",
    "JiraDataset",
    "JiraServer",
    "SandboxServer",
]
