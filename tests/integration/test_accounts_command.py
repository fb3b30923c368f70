"""``flowcentre accounts`` against the real broker: the change reaches the access log."""

from __future__ import annotations

import io

import pytest

from flowcentre.cli import main
from flowcentre.config import Settings


def run(*argv: str) -> int | str | None:
    with pytest.raises(SystemExit) as stopped:
        main(["accounts", *argv])
    return stopped.value.code


@pytest.fixture
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.kafka_bootstrap
    monkeypatch.setenv("FLOWCENTRE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    for name in ("events_topic", "dead_letter_topic", "access_topic"):
        monkeypatch.setenv(f"FLOWCENTRE_{name.upper()}", getattr(settings, name))


@pytest.mark.usefixtures("environment")
def test_accounts_are_added_listed_and_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    added = run(
        "add", "Nurse.X", "--name", "Nurse X", "--organisation", "RWP",
        "--role", "ward_staff:W1,W2", "--password-stdin",
    )  # fmt: skip
    again = run("add", "nurse.x", "--name", "Someone else", "--organisation", "RWP")
    refused = capsys.readouterr().err
    disabled = run("disable", "nurse.x")
    capsys.readouterr()
    listed = run("list")
    listing = capsys.readouterr().out

    assert (added, again, disabled, listed) == (0, 2, 0, 0)
    assert "the username 'nurse.x' is taken" in refused
    assert listing.split() == [
        "nurse.x", "person", "disabled", "Nurse", "X", "[ward_staff:W1,W2]"
    ]  # fmt: skip


@pytest.mark.usefixtures("environment")
def test_a_wall_screens_token_is_printed_once_listed_by_id_and_revoked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    added = run(
        "add", "wall.avon4", "--kind", "device", "--name", "Avon 4 wall", "--organisation", "RWP",
        "--role", "display:W1",
    )  # fmt: skip
    capsys.readouterr()
    issued = run("token", "wall.avon4")
    token = capsys.readouterr().out.strip()
    run("list")
    [token_id] = capsys.readouterr().out.split("tokens:")[1].split()
    revoked = run("revoke-token", "wall.avon4", token_id)
    run("list")
    after = capsys.readouterr().out

    assert (added, issued, revoked) == (0, 0, 0)
    assert token.startswith("fct_")
    assert token_id.startswith("tok-")
    assert "tokens:" not in after
    assert token not in after


@pytest.mark.usefixtures("environment")
def test_a_person_who_signs_in_through_the_provider_is_asked_for_no_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_prompt(prompt: str = "") -> str:
        raise AssertionError(f"asked {prompt!r}")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    added = run(
        "add", "sam.jones@nhs.test", "--sso", "--name", "Sam Jones", "--organisation", "RWP",
        "--role", "flow_centre",
    )  # fmt: skip
    run("list")
    listed = capsys.readouterr().out
    unlinked = run("unlink", "sam.jones@nhs.test")

    assert (added, unlinked) == (0, 0)
    assert listed.split()[:3] == ["sam.jones@nhs.test", "person", "active"]
    assert "SignOnUnlinked" in capsys.readouterr().err
