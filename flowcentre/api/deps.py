"""What routes depend on, as ``Annotated`` aliases: a route names ``reads: ReadsDep``.

The lifespan in ``app.py`` builds the adapters once per process and keeps them on the
app's state; these functions hand them to routes, so a test can pass its own adapters to
``create_app`` or override one function instead of patching anything. The whiteboard
socket takes its hub through ``whiteboard.hub_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends
from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from flowcentre.access_log import AccessLog
from flowcentre.api.audited import BoardAudit
from flowcentre.config import Settings
from flowcentre.domain.access import AccessPolicy
from flowcentre.domain.alert_rules import AlertConfiguration
from flowcentre.domain.discharge import DelayReasons, load_delay_reasons
from flowcentre.domain.opel import OpelConfiguration
from flowcentre.domain.triage import RuleSet, load_rules
from flowcentre.passwords import Passwords
from flowcentre.publisher import EventPublisher
from flowcentre.sso import SingleSignOn
from flowcentre.store.audit_index import AuditIndex
from flowcentre.store.pending_sign_ins import PendingSignIns
from flowcentre.store.rate_limits import SignInAttempts, WriteLimit
from flowcentre.store.reads import LiveReads
from flowcentre.store.sessions import Sessions
from flowcentre.store.trends import Trends
from flowcentre.webhooks import WebhookOutbox


@dataclass(frozen=True, slots=True)
class Access:
    """What signing in and checking access use."""

    policy: AccessPolicy
    log: AccessLog
    sessions: Sessions
    passwords: Passwords
    attempts: SignInAttempts
    writes: WriteLimit
    log_writer: EventPublisher
    """The access log, for what signing in records (a sign-on's first link)."""
    sso: SingleSignOn | None
    """The OpenID Connect provider people sign in with, if one is set up."""
    pending: PendingSignIns


@dataclass(frozen=True, slots=True)
class Planning:
    """What discharge planning reads of the configuration."""

    rules: RuleSet
    delay_reasons: DelayReasons
    zone: ZoneInfo
    hold: timedelta
    """How long a reservation holds when staff do not say."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Planning:
        return cls(
            rules=load_rules(settings.pathway_rules),
            delay_reasons=load_delay_reasons(settings.delay_reasons),
            zone=settings.zone,
            hold=timedelta(hours=settings.reservation_hold_h),
        )


@dataclass(frozen=True, slots=True)
class Services:
    """The adapters one API process uses."""

    settings: Settings
    redis: Redis
    reads: LiveReads
    publisher: EventPublisher
    access: Access
    audit: EventPublisher
    """Where reads of patients' details are recorded: the audit topic."""
    audit_index: AuditIndex
    board_audit: BoardAudit
    planning: Planning
    alerts: AlertConfiguration
    """The escalation ladders and webhook endpoints rules may name."""
    opel: OpelConfiguration
    webhooks: WebhookOutbox


def get_services(connection: HTTPConnection) -> Services:
    services = getattr(connection.app.state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("the API's services are not set up: the app's lifespan builds them")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_redis(services: ServicesDep) -> Redis:
    return services.redis


def get_reads(services: ServicesDep) -> LiveReads:
    return services.reads


def get_publisher(services: ServicesDep) -> EventPublisher:
    return services.publisher


def get_audit(services: ServicesDep) -> EventPublisher:
    return services.audit


def get_audit_index(services: ServicesDep) -> AuditIndex:
    return services.audit_index


def get_board_audit(services: ServicesDep) -> BoardAudit:
    return services.board_audit


def get_planning(services: ServicesDep) -> Planning:
    return services.planning


def get_alert_configuration(services: ServicesDep) -> AlertConfiguration:
    return services.alerts


def get_opel_configuration(services: ServicesDep) -> OpelConfiguration:
    return services.opel


def get_webhook_outbox(services: ServicesDep) -> WebhookOutbox:
    return services.webhooks


def get_trends(services: ServicesDep) -> Trends:
    return Trends(services.redis, prefix=services.settings.redis_prefix)


def get_access(services: ServicesDep) -> Access:
    return services.access


def get_policy(access: Annotated[Access, Depends(get_access)]) -> AccessPolicy:
    return access.policy


def get_write_limit(access: Annotated[Access, Depends(get_access)]) -> WriteLimit:
    return access.writes


async def get_log_now(
    reads: Annotated[LiveReads, Depends(get_reads)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> datetime:
    """Now as the live picture reads it: the clock on the log when it runs ahead of this
    server's (as the simulator's does), this server's otherwise."""
    now = datetime.now(UTC)
    clock = await reads.clock(settings.clock)
    return max(now, clock.at) if clock else now


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
ReadsDep = Annotated[LiveReads, Depends(get_reads)]
PublisherDep = Annotated[EventPublisher, Depends(get_publisher)]
AccessDep = Annotated[Access, Depends(get_access)]
AuditDep = Annotated[EventPublisher, Depends(get_audit)]
AuditIndexDep = Annotated[AuditIndex, Depends(get_audit_index)]
BoardAuditDep = Annotated[BoardAudit, Depends(get_board_audit)]
PolicyDep = Annotated[AccessPolicy, Depends(get_policy)]
WriteLimitDep = Annotated[WriteLimit, Depends(get_write_limit)]
PlanningDep = Annotated[Planning, Depends(get_planning)]
AlertConfigurationDep = Annotated[AlertConfiguration, Depends(get_alert_configuration)]
WebhookOutboxDep = Annotated[WebhookOutbox, Depends(get_webhook_outbox)]
OpelConfigurationDep = Annotated[OpelConfiguration, Depends(get_opel_configuration)]
TrendsDep = Annotated[Trends, Depends(get_trends)]
LogNowDep = Annotated[datetime, Depends(get_log_now)]
