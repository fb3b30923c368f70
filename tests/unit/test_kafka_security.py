"""Kafka security settings, as every client is given them: kafka-python, aiokafka, Faust."""

from __future__ import annotations

import ssl

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaProducer
from pydantic import SecretStr, ValidationError

from flowcentre.config import Settings
from streams.app import create_app


def secured(**changes: object) -> Settings:
    return Settings(
        kafka_bootstrap="kafka:9092",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="flowcentre",
        kafka_sasl_password=SecretStr("a-kafka-password"),
        **changes,  # type: ignore[arg-type]
    )


def test_plaintext_by_default_with_nothing_else() -> None:
    assert Settings().kafka_client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_gives_every_client_the_same_credentials_and_context() -> None:
    options = secured().kafka_client_options()

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "flowcentre"
    assert options["sasl_plain_password"] == "a-kafka-password"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    # kafka-python's producer and admin client take each option by the same name.
    assert set(options) <= set(KafkaProducer.DEFAULT_CONFIG)
    assert set(options) <= set(KafkaAdminClient.DEFAULT_CONFIG)


def test_sasl_without_a_password_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValidationError, match="FLOWCENTRE_KAFKA_SASL_PASSWORD"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="flowcentre")


def test_the_stream_worker_authenticates_as_the_other_clients_do() -> None:
    credentials = create_app(secured(kafka_sasl_mechanism="PLAIN")).conf.broker_credentials

    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("flowcentre", "a-kafka-password")
    assert credentials.mechanism.value == "PLAIN"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert create_app(Settings(kafka_bootstrap="kafka:9092")).conf.broker_credentials is None


async def test_aiokafka_takes_the_options_as_they_are() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="kafka:9092", **secured().kafka_client_options())

    assert consumer._client._security_protocol == "SASL_SSL"
    assert consumer._client._sasl_plain_username == "flowcentre"
