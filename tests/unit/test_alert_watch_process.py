"""The alert watch process's choices that need no servers: the rules it saves as first
versions, and refusing to start when it could not sign webhooks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowcentre.bootstrap import NotConfigured
from flowcentre.config import Settings
from flowcentre.domain.alert_rules import load_alerts
from flowcentre.domain.apply import State
from streams.alert_watch import default_rules, watch_alerts
from tests.builders import OCCUPANCY_RULE, event, fold


def test_the_files_rules_are_saved_once_and_a_deleted_one_stays_deleted() -> None:
    settings = Settings()
    configuration = load_alerts()
    ids = [rule.id for rule in configuration.rules]

    first = default_rules(settings, configuration, State())
    again = default_rules(settings, configuration, State())
    deleted = fold([event("AlertRuleDeleted", {"rule_id": ids[0]}, 0)])

    assert [one.payload.id for one in first] == ids  # type: ignore[attr-defined]
    assert [one.event_id for one in first] == [one.event_id for one in again], "named alike"
    assert [one.payload.id for one in default_rules(settings, configuration, deleted)] == ids[1:]  # type: ignore[attr-defined]


def test_the_watch_refuses_to_start_when_it_could_not_sign_its_webhooks(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.toml"
    rule = "\n".join(
        f"{key} = {value!r}" for key, value in OCCUPANCY_RULE.items() if key != "scope"
    )
    alerts.write_text(
        "[webhooks.pager]\nurl = 'https://pager.example/hooks'\n\n[[rules]]\n"
        + rule.replace("'", '"')
        + "\nscope = { level = 'site' }\nwebhooks = ['pager']\n"
    )
    settings = Settings(
        alerts=alerts, kafka_bootstrap="127.0.0.1:9", redis_url="redis://127.0.0.1:9"
    )

    with pytest.raises(NotConfigured, match="FLOWCENTRE_WEBHOOK_SECRET"):
        asyncio.run(watch_alerts(settings, asyncio.Event()))
