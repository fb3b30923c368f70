"""Roles, grants and the directory folded from the access log: pure rules, no servers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowcentre.domain.access import (
    AccessPolicy,
    GrantRefused,
    Permission,
    PolicyInvalid,
    Principal,
    Role,
    grant,
    load_policy,
)
from flowcentre.domain.access_events import AccessEvent
from flowcentre.domain.board import BoardScope
from flowcentre.domain.directory import Directory, token_digest
from flowcentre.domain.events import Actor, ActorKind, EventRejected
from tests.builders import T0, access_event, account_created, role_granted, role_revoked

POLICY = load_policy()
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"


def person(*grants: tuple[Role, frozenset[str]]) -> Principal:
    return Principal(
        actor=Actor(kind=ActorKind.USER, id="u1"),
        organisation_id="RWP",
        grants=tuple(grant(POLICY, role, wards) for role, wards in grants),
    )


def directory_of(*events: AccessEvent) -> Directory:
    directory = Directory()
    for one in events:
        directory.apply(one)
    return directory


def test_the_shipped_policy_defines_every_role() -> None:
    assert set(POLICY.roles) == set(Role)


def test_a_policy_missing_a_role_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "access.toml"
    path.write_text(
        '[roles.manager]\ndescription = "m"\nreach = "system"\npermissions = ["capacity.read"]\n'
    )

    with pytest.raises(PolicyInvalid, match="administrator"):
        load_policy(path)


def test_a_policy_naming_an_unknown_permission_is_refused(tmp_path: Path) -> None:
    roles = {role: {"description": "r", "reach": "system", "permissions": []} for role in Role}
    roles[Role.MANAGER]["permissions"] = ["beds.teleport"]

    with pytest.raises(ValueError, match=r"beds\.teleport"):
        AccessPolicy.model_validate({"roles": roles})


def test_ward_staff_may_update_their_own_wards_only() -> None:
    nurse = person((Role.WARD_STAFF, frozenset({"W1", "W2"})))

    assert nurse.may(POLICY, Permission.SET_BED_STATUS, "W1")
    assert nurse.may(POLICY, Permission.READ_BOARD, "W2")
    assert not nurse.may(POLICY, Permission.SET_BED_STATUS, "W3")
    assert not nurse.may(POLICY, Permission.MANAGE_ACCOUNTS)


def test_flow_centre_staff_reach_every_ward_and_managers_see_capacity_only() -> None:
    flow = person((Role.FLOW_CENTRE, frozenset()))
    manager = person((Role.MANAGER, frozenset()))

    assert flow.may(POLICY, Permission.SET_BED_STATUS, "any-ward")
    assert manager.may(POLICY, Permission.READ_CAPACITY)
    assert not manager.may(POLICY, Permission.READ_BOARD, "W1")


def test_a_wall_display_only_reads_its_wards() -> None:
    display = person((Role.DISPLAY, frozenset({"W1"})))

    assert display.may(POLICY, Permission.READ_BOARD, "W1")
    assert not display.may(POLICY, Permission.READ_BOARD, "W2")
    assert not display.may(POLICY, Permission.SET_BED_STATUS, "W1")


def test_grants_must_match_the_roles_reach() -> None:
    with pytest.raises(GrantRefused, match="name at least one"):
        grant(POLICY, Role.WARD_STAFF, frozenset())
    with pytest.raises(GrantRefused, match="takes no wards"):
        grant(POLICY, Role.MANAGER, frozenset({"W1"}))


def test_an_account_acts_with_the_roles_granted_to_it() -> None:
    directory = directory_of(
        account_created("a1", "nurse.jones"),
        role_granted("a1", "ward_staff", "W1"),
        role_granted("a1", "display", "W1", "W2"),
    )

    principal = directory.principal("a1", POLICY)

    assert principal is not None
    assert principal.actor == Actor(kind=ActorKind.USER, id="a1", name="Name of a1")
    assert {held.role for held in principal.grants} == {Role.WARD_STAFF, Role.DISPLAY}
    assert principal.may(POLICY, Permission.READ_BOARD, "W2")
    assert not principal.may(POLICY, Permission.SET_BED_STATUS, "W2")


def test_a_revoked_role_and_a_disabled_account_stop_acting() -> None:
    created = account_created("a1", "nurse.jones")
    granted = role_granted("a1", "ward_staff", "W1", minute=1)
    revoked = role_revoked("a1", "ward_staff", minute=2)
    disabled = access_event("AccountDisabled", {"account_id": "a1"}, minute=3)
    enabled = access_event("AccountEnabled", {"account_id": "a1"}, minute=4)

    assert directory_of(created, granted, revoked).principal("a1", POLICY) == Principal(
        actor=Actor(kind=ActorKind.USER, id="a1", name="Name of a1"),
        organisation_id="RWP",
        grants=(),
    )
    assert directory_of(created, granted, disabled).principal("a1", POLICY) is None
    assert directory_of(created, granted, disabled, enabled).principal("a1", POLICY) is not None


def test_the_first_account_created_with_a_username_keeps_it() -> None:
    first = account_created("a1", "nurse.jones", minute=0)
    second = account_created("a2", "nurse.jones", minute=5)

    for directory in (directory_of(first, second), directory_of(second, first)):
        found = directory.by_username("Nurse.Jones")
        assert found is not None
        assert found.account_id == "a1"


def test_a_password_is_kept_only_as_its_argon2_hash() -> None:
    with pytest.raises(EventRejected, match="password_hash"):
        access_event("PasswordSet", {"account_id": "a1", "password_hash": "hunter2"})

    directory = directory_of(
        account_created("a1", "nurse.jones"),
        access_event("PasswordSet", {"account_id": "a1", "password_hash": HASH}),
    )

    account = directory.by_username("nurse.jones")
    assert account is not None
    assert account.password_hash is not None
    assert account.password_hash.value == HASH


HISTORY = (
    account_created("a1", "nurse.jones", minute=0),
    # Re-issued later (a correction of the details) and raced by another claim between.
    account_created("a1", "nurse.jones", minute=8),
    role_granted("a1", "ward_staff", "W1", minute=1),
    role_granted("a1", "flow_centre", minute=2),
    role_revoked("a1", "ward_staff", minute=3),
    role_granted("a1", "ward_staff", "W2", minute=4),
    access_event("AccountDisabled", {"account_id": "a1"}, minute=5),
    access_event("AccountEnabled", {"account_id": "a1"}, minute=6),
    account_created("a2", "nurse.jones", minute=7),
    account_created("d1", "wall.avon4", minute=0, kind="device"),
    access_event("TokenIssued", {"account_id": "d1", "token_id": "t1", "digest": "a" * 64}),
    access_event("TokenRevoked", {"account_id": "d1", "token_id": "t1"}, minute=2),
    access_event("TokenIssued", {"account_id": "d1", "token_id": "t2", "digest": "b" * 64}),
    access_event("SignOnLinked", {"account_id": "a1", "issuer": "idp", "subject": "first"}, 1),
    access_event("SignOnUnlinked", {"account_id": "a1"}, minute=3),
    access_event("SignOnLinked", {"account_id": "a1", "issuer": "idp", "subject": "later"}, 5),
    access_event("SignOnLinked", {"account_id": "a1", "issuer": "idp", "subject": "racer"}, 6),
)


@given(st.permutations(HISTORY), st.lists(st.sampled_from(HISTORY), max_size=4))
def test_any_order_and_any_repeat_give_the_same_directory(
    shuffled: list[AccessEvent], repeated: list[AccessEvent]
) -> None:
    expected = directory_of(*HISTORY)
    directory = directory_of(*shuffled, *repeated)

    for account_id in ("a1", "a2", "d1"):
        assert directory.account(account_id) == expected.account(account_id)
        assert directory.principal(account_id, POLICY) == expected.principal(account_id, POLICY)
    assert directory.by_username("nurse.jones") == expected.by_username("nurse.jones")


@pytest.mark.parametrize(
    ("grants", "scope"),
    [
        (
            [(Role.FLOW_CENTRE, frozenset())],
            BoardScope(None, capacity=True, plan_wards=None, alerts=True),
        ),
        (
            [(Role.WARD_STAFF, frozenset({"W1"}))],
            BoardScope(frozenset({"W1"}), capacity=True, plan_wards=frozenset({"W1"})),
        ),
        (
            [(Role.DISPLAY, frozenset({"W1"}))],
            BoardScope(frozenset(), capacity=False, wall_wards=frozenset({"W1"})),
        ),
        ([(Role.MANAGER, frozenset())], BoardScope(frozenset(), capacity=True, alerts=True)),
        (
            [(Role.DISPLAY, frozenset({"W1"})), (Role.WARD_STAFF, frozenset({"W2"}))],
            BoardScope(
                frozenset({"W2"}),
                capacity=True,
                wall_wards=frozenset({"W1"}),
                plan_wards=frozenset({"W2"}),
            ),
        ),
        ([(Role.INTEGRATION, frozenset())], None),
        ([(Role.ADMINISTRATOR, frozenset())], None),
    ],
)
def test_a_boards_scope_follows_its_grants(
    grants: list[tuple[Role, frozenset[str]]], scope: BoardScope | None
) -> None:
    assert BoardScope.of(person(*grants), POLICY, frozenset()) == scope


def a_bed(ward_id: str, objects: bool = False) -> dict[str, object]:
    occupant = {"initials": "AL", "sex": "female", "on_leave": False, "sharing_objection": objects}
    return {
        "bed_id": f"{ward_id}-1",
        "ward_id": ward_id,
        "status_reason": "side room for isolation",
        "since": {"at": "2026-11-02T08:00:00+00:00", "by": {"kind": "user", "id": "rn-1"}},
        "occupants": [occupant],
    }


def test_each_scope_sends_a_bed_in_the_detail_its_grant_allows() -> None:
    scope = BoardScope(frozenset({"W1"}), capacity=True, wall_wards=frozenset({"W2"}))
    anonymous = {"at": "2026-11-02T08:00:00+00:00"}

    assert scope.bed(a_bed("W1")) == a_bed("W1")
    assert scope.bed(a_bed("W2")) == {
        **a_bed("W2"),
        "since": anonymous,
        "status_reason": None,
        "occupants": [{"initials": "AL"}],
    }
    assert scope.bed(a_bed("W3")) == {
        **a_bed("W3"),
        "since": anonymous,
        "status_reason": None,
        "occupants": [],
    }
    assert BoardScope(frozenset({"W1"}), capacity=False).bed(a_bed("W3")) is None


def test_a_patients_objection_withholds_their_initials_from_other_organisations() -> None:
    home = frozenset({"W1"})
    everywhere = BoardScope(None, capacity=True, wall_wards=None, home_wards=home)
    wall = BoardScope(frozenset(), capacity=False, wall_wards=None, home_wards=home)
    objecting_here, objecting_there = a_bed("W1", objects=True), a_bed("W2", objects=True)

    assert everywhere.bed(objecting_here) == objecting_here
    shown = everywhere.bed(objecting_there)
    assert shown is not None
    assert shown["occupants"] == [
        {"initials": None, "sex": "female", "on_leave": False, "sharing_objection": True}
    ]
    assert everywhere.bed(a_bed("W2")) == a_bed("W2"), "no objection, nothing withheld"
    assert wall.bed(objecting_here)["occupants"] == [{"initials": "AL"}]  # type: ignore[index]
    assert wall.bed(objecting_there)["occupants"] == [{"initials": None}]  # type: ignore[index]


def a_plan(ward_id: str | None, objects: bool = False) -> dict[str, object]:
    return {
        "spell_id": "S1",
        "listed": ward_id is not None,
        "ward_id": ward_id,
        "initials": "AL",
        "sharing_objection": objects,
    }


def test_a_plan_goes_only_to_boards_of_those_who_may_plan_its_ward() -> None:
    ward = BoardScope(frozenset({"W1"}), capacity=True, plan_wards=frozenset({"W1"}))
    wall = BoardScope(frozenset(), capacity=False, wall_wards=None)
    beds_but_no_plans = BoardScope(None, capacity=True, plan_wards=frozenset())

    assert ward.discharge(a_plan("W1")) == a_plan("W1")
    assert ward.discharge(a_plan("W2")) is None
    assert ward.discharge(a_plan(None)) is None, "a plan that left the wards names none"
    assert wall.discharge(a_plan("W1")) is None
    assert beds_but_no_plans.discharge(a_plan("W1")) is None
    assert ward.deltas([{"kind": "discharge", "discharge": a_plan("W2")}]) == []
    assert wall.snapshot([], [], [], [a_plan("W1")], [{"key": "pool"}], [], []) == {
        "sites": [],
        "wards": [],
        "beds": [],
        "discharges": [],
        "capacity": [],
        "alerts": [],
        "opel": [],
    }
    assert ward.spells([], [a_plan("W1"), {**a_plan("W2"), "spell_id": "S2"}]) == {"S1"}


def test_a_plan_of_another_organisations_ward_withholds_an_objecting_patients_initials() -> None:
    centre = BoardScope(None, capacity=True, home_wards=frozenset({"W1"}), plan_wards=None)

    assert centre.discharge(a_plan("W1", objects=True)) == a_plan("W1", objects=True)
    assert centre.discharge(a_plan("W2", objects=True)) == {
        **a_plan("W2", objects=True),
        "initials": None,
    }
    assert centre.discharge(a_plan("W2")) == a_plan("W2")


def test_a_new_password_or_a_disable_ends_the_sessions_started_before_it() -> None:
    hashed = {"account_id": "a1", "password_hash": HASH}
    directory = directory_of(
        account_created("a1", "nurse.jones"),
        access_event("PasswordSet", hashed, minute=0),
        access_event("AccountDisabled", {"account_id": "a1"}, minute=10),
        access_event("AccountEnabled", {"account_id": "a1"}, minute=11),
        access_event("PasswordSet", hashed, minute=20),
    )
    account = directory.account("a1")
    assert account is not None

    assert not account.admits(T0 + timedelta(minutes=5))
    assert not account.admits(T0 + timedelta(minutes=15))
    assert account.admits(T0 + timedelta(minutes=25))


def test_a_token_signs_its_account_in_until_it_is_revoked() -> None:
    token = "fct_the-screens-own-token"
    issued = {"account_id": "d1", "token_id": "t1", "digest": token_digest(token)}
    directory = directory_of(
        account_created("d1", "wall.avon4", kind="device"),
        access_event("TokenIssued", issued, minute=1),
    )
    held = directory.by_token(token)
    assert held is not None
    assert (held[0].account_id, held[1]) == ("d1", "t1")
    assert directory.by_token("fct_another-token") is None

    directory.apply(access_event("TokenRevoked", {"account_id": "d1", "token_id": "t1"}, minute=9))

    assert directory.by_token(token) is None
    account = directory.account("d1")
    assert account is not None
    assert not account.token_live("t1"), "a session it paired ends"


def test_a_token_is_kept_only_as_its_digest() -> None:
    with pytest.raises(EventRejected, match="digest"):
        access_event("TokenIssued", {"account_id": "d1", "token_id": "t1", "digest": "fct_x"})


def test_an_account_is_held_to_the_first_identity_linked_since_it_was_last_unlinked() -> None:
    directory = directory_of(*HISTORY)

    account = directory.account("a1")
    assert account is not None
    assert account.sign_on == ("idp", "later"), "the racer linked after it"


AN_ALERT = {
    "alert_id": "occupancy-high@site:WRH@20261102T081600Z",
    "status": "open",
    "severity": "warning",
    "value": 95.0,
    "rule": {"id": "occupancy-high"},
    "scope": {"level": "site", "id": "WRH"},
}


def test_alerts_come_whole_to_those_who_read_them_and_as_a_count_to_other_boards() -> None:
    manager = BoardScope.of(person((Role.MANAGER, frozenset())), POLICY, frozenset())
    wall = BoardScope.of(person((Role.DISPLAY, frozenset({"W1"}))), POLICY, frozenset())
    assert manager is not None
    assert wall is not None
    alert = {"kind": "alert", "alert": AN_ALERT}
    rule = {"kind": "rule", "rule": {"rule_id": "occupancy-high"}}
    tick = {"kind": "clock", "clock": {"clock": "county", "at": "2026-11-02T08:16:00+00:00"}}

    assert manager.deltas([alert, rule, tick]) == [alert, rule, tick]
    [counted, told_tick] = wall.deltas([alert, rule, tick])
    assert told_tick == tick
    assert counted["alert"]["status"] == "open"
    assert counted["alert"]["severity"] == "warning"
    assert "WRH" not in str(counted), "which place is in trouble is not a wall's business"
    assert wall.snapshot([], [], [], [], [], [AN_ALERT], [])["alerts"] == [counted["alert"]]


def test_opel_comes_whole_to_readers_of_alerts_and_as_its_level_to_every_other_board() -> None:
    manager = BoardScope.of(person((Role.MANAGER, frozenset())), POLICY, frozenset())
    wall = BoardScope.of(person((Role.DISPLAY, frozenset({"W1"}))), POLICY, frozenset())
    assert manager is not None
    assert wall is not None
    opel = {
        "place": "WRH",
        "level": 3,
        "since": {"at": "2026-11-02T08:00:00+00:00", "by": {"kind": "system", "id": "w"}},
        "share": 55.0,
        "drivers": ["general_acute_occupancy_pct"],
        "parameters": [{"parameter": "general_acute_occupancy_pct", "value": 96.0}],
    }
    reading = {"kind": "opel_reading", "opel_reading": {"parameter": "ed_four_hour_pct"}}

    assert manager.deltas([{"kind": "opel", "opel": opel}, reading]) == [
        {"kind": "opel", "opel": opel},
        reading,
    ]
    assert wall.deltas([{"kind": "opel", "opel": opel}, reading]) == [
        {"kind": "opel", "opel": {"place": "WRH", "level": 3, "since": opel["since"]}}
    ]
