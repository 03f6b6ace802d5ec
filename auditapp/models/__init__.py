"""Typed SQLAlchemy models. Import from here; migrations/ is the only source of the schema."""
from .audits import Action, Answer, Audit, Conversation, Evidence, PolicyCheck, Visit, VisitAssignment, VisitAuditType
from .base import Base
from .directory import (DirectoryDecision, Notification, OutboundEmail, ProviderStatusChange, ProviderTrigger,
                        SafeguardingConcern, Watch)
from .people import Actor, Organisation, SignInAddress, User
from .providers import DirectoryStamp, Provider, ProviderCouncil, ProviderKeyStage, ProviderProvisionType, Site
from .review import QoeGrade, ReviewComment, ShareLink
from .placements import Placement, PlacementReview
from .records import AuditLogEntry, ChangeLogEntry, Device, HeldMutation, ProcessedMutation, SyncConflict
from .templates import AuditTemplate, TemplateVersion

__all__ = [
    "Action", "Actor", "Answer", "Audit", "AuditLogEntry", "AuditTemplate", "Base", "ChangeLogEntry", "Conversation",
    "Device", "DirectoryDecision", "DirectoryStamp", "Notification", "OutboundEmail", "ProviderStatusChange", "ProviderTrigger", "Watch", "HeldMutation", "SyncConflict", "Evidence", "Organisation", "Placement", "PlacementReview", "PolicyCheck", "ProcessedMutation", "Provider",
    "ProviderCouncil", "ProviderKeyStage", "ProviderProvisionType", "QoeGrade", "ReviewComment", "SafeguardingConcern",
    "ShareLink", "SignInAddress", "Site",
    "TemplateVersion", "User", "Visit", "VisitAssignment", "VisitAuditType",
]
