"""The container deployment, checked against the code it runs, without a container engine.

``docker-compose.yml`` and the ``Dockerfile`` are parsed and compared with what they
name in the project: the ``flowcentre`` subcommands, the ``Settings`` fields and the
package's console script.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from flowcentre.api.routes import health
from flowcentre.cli import parser
from flowcentre.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

PREFIX = str(Settings.model_config.get("env_prefix", ""))

#: The services the deployment must have that run the Flow Centre image, and the
#: subcommand each one runs.
EXPECTED_COMMANDS = {"worker": "worker", "api": "api", "simulator": "simulate"}


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml is not a mapping"
    return document


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found = services(compose).get(name)
    assert isinstance(found, dict), f"docker-compose.yml has no service {name!r}"
    return found


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the image built from this repository."""
    built = {name: spec for name, spec in services(compose).items() if "build" in spec}
    assert built, "no service builds the Flow Centre image"
    return built


def environment(spec: dict[str, Any]) -> dict[str, Any]:
    """A service's environment as a mapping, whichever of compose's two forms it uses."""
    env = spec.get("environment", {})
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {name: value for name, _, value in pairs}
    assert isinstance(env, dict), f"environment is neither a mapping nor a list: {env!r}"
    return env


def settings_of(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a process of ``spec`` would read from its container's environment."""
    with monkeypatch.context() as patch:
        # Variables of the shell running the tests must not fill in what the file leaves out.
        for name in [name for name in os.environ if name.startswith(PREFIX)]:
            patch.delenv(name)
        for name, value in environment(spec).items():
            patch.setenv(name, interpolated(str(value)))
        return Settings()


#: ``${NAME}``, or ``${NAME:?message}``, which stops compose when NAME is unset.
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?P<required>:\?[^}]*)?\}")


def interpolated(value: str) -> str:
    """The value as compose would pass it on, with each variable given a stand-in."""
    return VARIABLE.sub(lambda match: f"secret-of-{match['name']}", value)


def required(value: str) -> set[str]:
    """The variables without which compose refuses to start, as ``value`` names them."""
    return {match["name"] for match in VARIABLE.finditer(value) if match["required"]}


def variables_set(node: Any) -> Iterator[str]:
    """Every ``FLOWCENTRE_*`` name the document sets, wherever it is set (anchors too)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(PREFIX):
                yield key
            yield from variables_set(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str) and item.startswith(PREFIX) and "=" in item:
                yield item.partition("=")[0]
            else:
                yield from variables_set(item)


def container_ports(spec: dict[str, Any]) -> list[int]:
    """The container side of each published port, in short or long syntax."""
    targets = []
    for port in spec.get("ports", []):
        if isinstance(port, dict):
            targets.append(int(port["target"]))
        else:
            target = str(port).split("/")[0].rsplit(":", 1)[-1]
            targets.append(int(target))
    return targets


def test_the_services_that_run_our_image_run_real_subcommands(compose: dict[str, Any]) -> None:
    built = ours(compose)
    assert set(EXPECTED_COMMANDS) <= set(built)
    for name, spec in built.items():
        command = spec.get("command")
        assert isinstance(command, list), f"{name}: command must be a list, got {command!r}"
        try:
            args = parser().parse_args([str(part) for part in command])
        except SystemExit:
            pytest.fail(f"{name}: `flowcentre {' '.join(command)}` is not a valid command")
        assert args.command == command[0]
        if name in EXPECTED_COMMANDS:
            assert args.command == EXPECTED_COMMANDS[name], name


def test_every_flowcentre_variable_set_is_a_setting(compose: dict[str, Any]) -> None:
    known = {PREFIX + field.upper() for field in Settings.model_fields}
    used = set(variables_set(compose))
    assert {f"{PREFIX}KAFKA_BOOTSTRAP", f"{PREFIX}REDIS_URL"} <= used
    assert used <= known, f"not fields of Settings: {sorted(used - known)}"


def test_environment_values_are_strings(compose: dict[str, Any]) -> None:
    # YAML would turn an unquoted `false`, `on` or `1.0` into another type whose text
    # form differs from what was written.
    for name, spec in services(compose).items():
        for variable, value in environment(spec).items():
            assert isinstance(value, str), f"{name}: {variable}={value!r} is not quoted"


def test_each_of_our_services_gets_valid_settings_for_the_servers_here(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka_env = environment(service(compose, "kafka"))
    advertised = {
        listener.partition("://")[2]
        for listener in str(kafka_env["KAFKA_ADVERTISED_LISTENERS"]).split(",")
    }
    for name, spec in ours(compose).items():
        settings = settings_of(spec, monkeypatch)
        assert settings.kafka_bootstrap is not None, name
        assert set(settings.kafka_bootstrap.split(",")) <= advertised, name
        assert settings.redis_url is not None, name
        redis = urlsplit(settings.redis_url)
        assert redis.scheme == "redis", name
        assert redis.hostname == "redis", name
        assert redis.port in (None, 6379), name


def test_kafka_and_redis_take_no_client_without_a_password_from_the_environment(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = environment(service(compose, "kafka"))
    protocols = dict(
        pair.split(":") for pair in str(kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]).split(",")
    )
    for listener in str(kafka["KAFKA_ADVERTISED_LISTENERS"]).split(","):
        assert protocols[listener.partition("://")[0]].startswith("SASL_"), listener
    jaas = str(kafka["KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG"])
    assert {"BROKER_ADMIN_PASSWORD", "FLOWCENTRE_KAFKA_PASSWORD"} <= required(jaas)
    redis = [str(part) for part in service(compose, "redis")["command"]]
    assert required(redis[redis.index("--requirepass") + 1]) == {"REDIS_PASSWORD"}
    for name, spec in ours(compose).items():
        settings = settings_of(spec, monkeypatch)
        assert settings.kafka_security_protocol == protocols["SASL_PLAINTEXT"], name
        assert settings.kafka_sasl_username == "flowcentre", name
        assert settings.kafka_sasl_password is not None, name
        jaas_password = 'user_flowcentre="secret-of-FLOWCENTRE_KAFKA_PASSWORD"'
        assert jaas_password in interpolated(jaas), "the broker knows another password"
        assert settings.kafka_sasl_password.get_secret_value() in interpolated(jaas), name
        assert urlsplit(settings.redis_url or "").password == "secret-of-REDIS_PASSWORD", name


def test_kafka_runs_in_kraft_mode_without_zookeeper(compose: dict[str, Any]) -> None:
    kafka = service(compose, "kafka")
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = environment(kafka)
    roles = set(str(env["KAFKA_PROCESS_ROLES"]).split(","))
    assert roles == {"broker", "controller"}
    assert str(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).startswith(f"{env['KAFKA_NODE_ID']}@")
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    for name, spec in services(compose).items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(spec.get("image", "")).lower()


def test_the_kafka_log_is_on_a_named_volume(compose: dict[str, Any]) -> None:
    kafka = service(compose, "kafka")
    log_dirs = str(environment(kafka)["KAFKA_LOG_DIRS"]).split(",")
    named = set(compose.get("volumes") or {})
    mounts = {}
    for volume in kafka.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source")
        else:
            source, target = str(volume).split(":")[:2]
            mounts[target] = source
    for log_dir in log_dirs:
        assert mounts.get(log_dir) in named, f"{log_dir} is not on a named volume"


def test_kafka_keeps_the_log_and_leaves_topic_creation_to_the_workers(
    compose: dict[str, Any],
) -> None:
    env = environment(service(compose, "kafka"))
    assert env["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert env.get("KAFKA_LOG_RETENTION_BYTES", "-1") == "-1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_redis_keeps_nothing_on_disk(compose: dict[str, Any]) -> None:
    redis = service(compose, "redis")
    assert str(redis["image"]).split(":")[0] == "redis"
    command = [str(part) for part in redis["command"]]
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"


@pytest.mark.parametrize("name", ["kafka", "redis"])
def test_the_servers_have_healthchecks(compose: dict[str, Any], name: str) -> None:
    healthcheck = service(compose, name).get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    assert isinstance(test, list)
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1


def test_our_services_wait_for_kafka_and_redis_to_be_healthy(compose: dict[str, Any]) -> None:
    for name, spec in ours(compose).items():
        depends_on = spec.get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
        for server in ("kafka", "redis"):
            assert depends_on.get(server, {}).get("condition") == "service_healthy", (
                f"{name} does not wait for {server} to be healthy"
            )


def test_the_api_listens_on_all_interfaces_at_its_published_port(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = service(compose, "api")
    settings = settings_of(api, monkeypatch)
    assert settings.api_host == "0.0.0.0"
    assert container_ports(api) == [settings.api_port]


def test_the_api_healthcheck_asks_its_health_route(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = service(compose, "api")
    settings = settings_of(api, monkeypatch)
    test = " ".join(api["healthcheck"]["test"])
    url = urlsplit(test[test.index("http://") :].split("'")[0])
    assert url.hostname in {"127.0.0.1", "localhost"}
    assert url.port == settings.api_port
    assert url.path in {getattr(route, "path", None) for route in health.router.routes}


def test_workers_are_replicated_within_the_partition_count(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = service(compose, "worker")
    replicas = worker["deploy"]["replicas"]
    assert replicas == 2
    assert replicas <= settings_of(worker, monkeypatch).topic_partitions
    assert "container_name" not in worker, "replicas cannot share a container name"
    assert "ports" not in worker, "replicas cannot share a published port"


def test_only_the_simulator_and_one_off_tasks_are_outside_the_default_profile(
    compose: dict[str, Any],
) -> None:
    profiles = service(compose, "simulator").get("profiles")
    assert isinstance(profiles, list)
    assert profiles
    assert "default" not in profiles
    for name in ("kafka", "redis", "worker", "api"):
        assert not service(compose, name).get("profiles"), f"{name} must run by default"


def test_the_image_runs_the_flowcentre_command_as_a_user(compose: dict[str, Any]) -> None:
    instructions = [
        line.split(None, 1)
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith((" ", "#"))
    ]
    keywords = [keyword.upper() for keyword, *_ in instructions]
    arguments = {keyword.upper(): rest[0] if rest else "" for keyword, *rest in instructions}
    scripts = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["scripts"]
    assert arguments["FROM"] == "python:3.11-slim"
    entrypoint = yaml.safe_load(arguments["ENTRYPOINT"])
    assert entrypoint == ["flowcentre"]
    assert entrypoint[0] in scripts, "the entrypoint is not the package's console script"
    user = arguments["USER"].split(":")[0]
    assert user not in {"root", "0"}
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert all(spec.get("user") in (None, user) for spec in ours(compose).values())


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "**/__pycache__"} <= ignored
    assert not {"flowcentre", "streams", "producers", "pyproject.toml", "README.md"} & ignored


def test_the_parser_refuses_a_command_it_does_not_have() -> None:
    # The subcommand test relies on this: a parser that accepted anything would prove nothing.
    with pytest.raises(SystemExit):
        parser().parse_args(["no-such-command"])


def test_the_image_serves_the_whiteboard_pages_it_copies() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    settings = dict(
        line.removeprefix("ENV ").split("=", 1) for line in lines if line.startswith("ENV ")
    )
    ui_dir = settings["FLOWCENTRE_UI_DIR"]
    assert "ui_dir" in Settings.model_fields
    assert any(f"cp -r ui {ui_dir}" in line for line in lines)
