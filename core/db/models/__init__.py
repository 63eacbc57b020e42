"""All tables. Import models from here so every table is registered on ``Base.metadata``."""

from core.db.models.agents import (
    ACTION_STATUSES,
    Agent,
    AgentVersion,
    ChatFeedback,
    ChatMessage,
    Conversation,
    LlmUsage,
    ProposedAction,
)
from core.db.models.base import Base, SourceRecord
from core.db.models.business import (
    HEALTH,
    LIFECYCLE,
    SEGMENTS,
    Account,
    Activity,
    Call,
    CallParticipant,
    Contact,
    Deal,
    DealStageHistory,
    Employee,
    Goal,
    Invoice,
    JobChange,
    Payment,
    Prospect,
    RentPaymentVolume,
    Review,
    SlackMessage,
    TranscriptSegment,
)
from core.db.models.estuary import EstuaryDocState, EstuaryFeed
from core.db.models.insights import (
    SEVERITIES,
    STATUSES,
    Insight,
    InsightDelivery,
    JobControl,
    JobRun,
    NotifyRoute,
)
from core.db.models.memory import MemoryRow, MemoryVersion
from core.db.models.pipelines import ConfiguredConnector, QuarantinedRecord
from core.db.models.platform import (
    ApiKey,
    AuditLog,
    Chunk,
    ChunkChange,
    Document,
    IndexSyncState,
    Meta,
    PipelineRun,
    Role,
    SyncState,
    User,
)

__all__ = [name for name in dir() if not name.startswith("_")]
