"""Enumerated values stored as text with CHECK constraints (a new value is one migration line)."""
from __future__ import annotations

ROLES = ("auditor", "qoe_teacher", "maintainer", "school", "admin", "la_officer")
ROLE_LABELS = {
    "auditor": "Auditor",
    "qoe_teacher": "Quality of education teacher",
    "maintainer": "Directory maintainer",
    "school": "School staff",
    "admin": "Administrator",
    "la_officer": "Local authority officer (read only)",
}
ORGANISATION_KINDS = ("council", "contractor", "school")

AUDIT_TYPES = ("safeguarding", "health_safety", "quality_education")
AUDIT_TYPE_LABELS = {
    "safeguarding": "Safeguarding",
    "health_safety": "Health and safety",
    "quality_education": "Quality of education",
}
AUDIT_STATUSES = ("draft", "submitted", "returned", "finalised")
AUDIT_OUTCOMES = ("compliant", "compliant_with_actions", "non_compliant")
RATINGS = ("met", "partially_met", "not_met", "not_applicable")
QOE_GRADES = ("strong", "secure", "developing", "weak")
MODERATION_DECISIONS = ("agreed", "changed")
SHARE_LINK_PURPOSES = ("action_plan",)
SECTION_RAGS = ("green", "amber", "red", "grey")

REGISTRATION_STATUSES = ("not_required", "possibly_required", "registered", "not_checked")
REGISTRATION_LABELS = {
    "not_required": "Not required",
    "possibly_required": "Possibly required - refer",
    "registered": "Registered",
    "not_checked": "Not yet checked",
}
DIRECTORY_STATUSES = ("pending", "eligible", "conditional", "under_review", "suspended", "removed")
DIRECTORY_STATUS_LABELS = {
    "pending": "Pending",
    "eligible": "Eligible",
    "conditional": "Conditional",
    "under_review": "Under review",
    "suspended": "Suspended",
    "removed": "Removed",
}
PROVISION_TYPES = ("vocational", "therapeutic", "outdoor", "tutoring", "online", "creative", "sport")
KEY_STAGES = ("KS1", "KS2", "KS3", "KS4")
TIME_BASES = ("part_time", "full_time", "both")
DELIVERY_MODES = ("in_person", "online", "hybrid")
DISTRICTS = (
    "Leicester City",
    "Blaby",
    "Charnwood",
    "Harborough",
    "Hinckley and Bosworth",
    "Melton",
    "North West Leicestershire",
    "Oadby and Wigston",
)

VISIT_STATUSES = ("planned", "in_progress", "completed", "cancelled")
CONVERSATION_KINDS = ("learner", "staff")
EVIDENCE_STATUSES = ("expected", "uploaded", "verified", "rejected", "withdrawn")
# What a device may upload; confirm checks the bytes (magic numbers), never the declared type.
EVIDENCE_MEDIA_TYPES = ("image/jpeg", "image/png", "application/pdf")
ACTION_STATUSES = ("proposed", "open", "provider_done", "verified_closed", "overdue", "no_longer_relevant")
ACTION_PRIORITIES = ("immediate", "high", "normal")
CONCERN_STATUSES = ("open", "triaged", "closed")
STATUS_CHANGE_CAUSES = ("finalise", "action", "concern", "decision", "rollup", "provider_edit", "trigger")
TRIGGER_KINDS = ("new_premises", "new_proprietor", "new_dsl", "new_activity", "concern", "serious_incident")
TRIGGER_LABELS = {
    "new_premises": "New site or venue",
    "new_proprietor": "Change of proprietor or ownership",
    "new_dsl": "Change of designated safeguarding lead",
    "new_activity": "New hazardous activity",
    "concern": "Safeguarding concern or allegation about staff",
    "serious_incident": "Serious incident",
}
NOTIFICATION_KINDS = ("status_changed", "placement_affected", "placement_submitted")
DECISIONS = ("approve", "suspend", "reinstate", "remove", "clear_review", "confirm_reinstatement")
CHANGE_OPS = ("upsert", "delete")
MUTATION_STATUSES = ("applied", "duplicate", "rejected", "conflict", "held")

PLACEMENT_STATUSES = ("draft", "submitted", "ended")
PLACEMENT_OUTCOMES = ("returned_full_time", "moved_setting", "post_16", "re_referred", "other")
PLACEMENT_OUTCOME_LABELS = {
    "returned_full_time": "Returned to mainstream full time",
    "moved_setting": "Moved to another setting",
    "post_16": "Moved on to post-16 education or training",
    "re_referred": "Re-referred",
    "other": "Other",
}
ATTENDANCE_CODES = ("B", "K")
