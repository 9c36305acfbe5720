"""SQLAlchemy models shared by the Flask and FastAPI halves."""

from shared_models.audit import AuditLog
from shared_models.auth import AuthSession, RevokedToken
from shared_models.base import Base, UTCDateTime, utcnow
from shared_models.data_source import DataSource, SourceStatus, SourceType
from shared_models.dataset import Dataset, DatasetFormat, DatasetVersion, VersionState
from shared_models.integration import Integration
from shared_models.migration import RouteState, RouteStats, ShadowMismatch
from shared_models.password_reset import PasswordResetToken
from shared_models.project import Project, ProjectMember, ProjectRole
from shared_models.task import AnalysisResult, AnalysisTask, TaskKind, TaskStatus
from shared_models.user import ROLE_RANK, Role, User

__all__ = [
    "ROLE_RANK",
    "AnalysisResult",
    "AnalysisTask",
    "AuditLog",
    "AuthSession",
    "Base",
    "DataSource",
    "Dataset",
    "DatasetFormat",
    "DatasetVersion",
    "Integration",
    "PasswordResetToken",
    "Project",
    "ProjectMember",
    "ProjectRole",
    "RevokedToken",
    "Role",
    "RouteState",
    "RouteStats",
    "SourceStatus",
    "ShadowMismatch",
    "SourceType",
    "TaskKind",
    "TaskStatus",
    "UTCDateTime",
    "User",
    "VersionState",
    "utcnow",
]
