"""SQLAlchemy models shared by the Flask and FastAPI halves."""

from shared_models.audit import AuditLog
from shared_models.auth import AuthSession, RevokedToken
from shared_models.base import Base, UTCDateTime, utcnow
from shared_models.data_source import DataSource, SourceStatus, SourceType
from shared_models.integration import Integration
from shared_models.migration import RouteStats, ShadowMismatch
from shared_models.password_reset import PasswordResetToken
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
    "Integration",
    "PasswordResetToken",
    "RevokedToken",
    "Role",
    "RouteStats",
    "SourceStatus",
    "ShadowMismatch",
    "SourceType",
    "TaskKind",
    "TaskStatus",
    "UTCDateTime",
    "User",
    "utcnow",
]
