"""Kafka transport security, configured once in the settings: what is refused (naming
the variables), and the client options and faststream security made from the rest."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from leancrm_devstack.certificates import CertificateAuthority
from leancrm_servicekit.kafka import broker_security, client_options, transport_warnings
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings, load_settings


def settings(**env: str) -> ServiceSettings:
    """The settings of exactly these variables (LEANCRM_ prefix added), whatever the
    process environment holds."""
    return load_settings(ServiceSettings, {f"LEANCRM_{k.upper()}": v for k, v in env.items()})


def refused(**env: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        settings(**env)
    return str(caught.value)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path_factory.mktemp("pki"))


def test_plaintext_by_default_with_no_tls_or_sasl() -> None:
    s = settings()
    assert s.kafka_security_protocol == "PLAINTEXT" and s.kafka_ssl_check_hostname is True
    assert client_options(s) == {"security_protocol": "PLAINTEXT"}
    assert broker_security(client_options(s)) is None


@pytest.mark.parametrize(("env", "named"), [
    ({"kafka_security_protocol": "SASL_SSL"},
     ["LEANCRM_KAFKA_SASL_MECHANISM", "LEANCRM_KAFKA_SASL_USERNAME", "LEANCRM_KAFKA_SASL_PASSWORD"]),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN",
      "kafka_sasl_username": "svc"}, ["LEANCRM_KAFKA_SASL_PASSWORD", "LEANCRM_KAFKA_SASL_PASSWORD_FILE"]),
    ({"kafka_security_protocol": "SSL", "kafka_sasl_username": "svc"},
     ["LEANCRM_KAFKA_SASL_USERNAME", "uses no SASL", "SASL_SSL"]),
    ({"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_password": "pw"},
     ["LEANCRM_KAFKA_SASL_MECHANISM", "LEANCRM_KAFKA_SASL_PASSWORD", "=PLAINTEXT uses no SASL"]),
    ({"kafka_ssl_cafile": "/etc/hostname"}, ["LEANCRM_KAFKA_SSL_CAFILE", "does not use TLS"]),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN",
      "kafka_sasl_username": "u", "kafka_sasl_password": "p", "kafka_ssl_check_hostname": "false"},
     ["LEANCRM_KAFKA_SSL_CHECK_HOSTNAME", "=SASL_PLAINTEXT does not use TLS"]),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"},
     ["LEANCRM_KAFKA_SSL_CAFILE=/nonexistent/ca.pem: no such file"]),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/etc/hostname"},
     ["LEANCRM_KAFKA_SSL_KEYFILE is set without LEANCRM_KAFKA_SSL_CERTFILE"]),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "pw"},
     ["LEANCRM_KAFKA_SSL_KEY_PASSWORD is set without a client certificate"]),
    ({"kafka_security_protocol": "TLS"}, ["LEANCRM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"]),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI", "kafka_sasl_username": "u",
      "kafka_sasl_password": "p"}, ["LEANCRM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"]),
])
def test_incomplete_or_contradictory_settings_are_refused_naming_the_variables(
        env: dict[str, str], named: list[str]) -> None:
    message = refused(**env)
    for text in named:
        assert text in message, (text, message)


def test_a_certificate_without_its_key_is_refused(pki: CertificateAuthority) -> None:
    client = pki.issue("alone", ("svc",), client=True)
    message = refused(kafka_security_protocol="SSL", kafka_ssl_certfile=str(client.cert))
    assert f"LEANCRM_KAFKA_SSL_CERTFILE={client.cert} holds no private key" in message
    assert "set LEANCRM_KAFKA_SSL_KEYFILE" in message


def test_a_certificate_file_holding_its_key_needs_no_keyfile(pki: CertificateAuthority,
                                                             tmp_path: Path) -> None:
    client = pki.issue("both", ("svc",), client=True)
    both = tmp_path / "both.pem"
    both.write_bytes(client.cert.read_bytes() + client.key.read_bytes())
    options = client_options(settings(kafka_security_protocol="SSL", kafka_ssl_certfile=str(both)))
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_secrets_come_from_files_and_are_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-from-the-store\n")
    s = settings(kafka_security_protocol="sasl_ssl", kafka_sasl_mechanism="scram-sha-512",
                 kafka_sasl_username="customers", kafka_sasl_password_file=str(secret))
    assert (s.kafka_security_protocol, s.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert s.kafka_sasl_password is not None
    assert s.kafka_sasl_password.get_secret_value() == "s3cret-from-the-store"  # the newline dropped
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())


@pytest.mark.parametrize(("content", "said"), [(None, "cannot be read"), ("\n", "the file is empty")])
def test_a_secret_file_that_gives_nothing_is_refused(tmp_path: Path, content: str | None, said: str) -> None:
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    message = refused(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                      kafka_sasl_username="u", kafka_sasl_password_file=str(path))
    assert f"LEANCRM_KAFKA_SASL_PASSWORD_FILE={path}: {said}" in message


def test_a_secret_file_without_sasl_is_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("pw")
    message = refused(kafka_security_protocol="SSL", kafka_sasl_password_file=str(path))
    assert message.endswith("LEANCRM_KAFKA_SASL_PASSWORD_FILE is set, but LEANCRM_KAFKA_SECURITY_PROTOCOL="
                            "SSL uses no SASL: set it to SASL_SSL (or SASL_PLAINTEXT), or unset it")


def test_a_secret_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("a")
    message = refused(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                      kafka_sasl_username="u", kafka_sasl_password="b", kafka_sasl_password_file=str(path))
    assert "LEANCRM_KAFKA_SASL_PASSWORD and LEANCRM_KAFKA_SASL_PASSWORD_FILE are both set" in message


def test_an_empty_variable_is_an_unset_one() -> None:
    s = settings(kafka_ssl_cafile="", kafka_sasl_username=" ")
    assert s.kafka_ssl_cafile is None and s.kafka_sasl_username is None


def test_the_process_environment_is_not_read_when_a_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANCRM_KAFKA_SECURITY_PROTOCOL", "SSL")
    assert settings().kafka_security_protocol == "PLAINTEXT"
    assert load_settings(ServiceSettings).kafka_security_protocol == "SSL"


def test_tls_verifies_the_broker_and_its_name_by_default(pki: CertificateAuthority) -> None:
    options = client_options(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.cert)))
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "Lean CRM test-ca"),),)]


def test_the_host_name_check_can_be_turned_off_the_chain_is_still_verified(pki: CertificateAuthority) -> None:
    s = settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.cert),
                 kafka_ssl_check_hostname="false")
    context = client_options(s)["ssl_context"]
    assert context.check_hostname is False and context.verify_mode == ssl.CERT_REQUIRED
    assert "LEANCRM_KAFKA_SSL_CHECK_HOSTNAME=false" in transport_warnings(s)[0]


def test_a_client_certificate_with_an_encrypted_key(pki: CertificateAuthority, tmp_path: Path) -> None:
    client = pki.issue("client", ("svc",), client=True, key_password="key-pw")
    password = tmp_path / "key-password"
    password.write_text("key-pw")
    ok = settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.cert),
                  kafka_ssl_certfile=str(client.cert), kafka_ssl_keyfile=str(client.key),
                  kafka_ssl_key_password_file=str(password))
    assert isinstance(client_options(ok)["ssl_context"], ssl.SSLContext)
    for wrong in ({"kafka_ssl_key_password": "nope"}, {}):  # no password: an error, never a prompt
        s = settings(kafka_security_protocol="SSL", kafka_ssl_certfile=str(client.cert),
                     kafka_ssl_keyfile=str(client.key), **wrong)
        with pytest.raises(ConfigurationError, match="LEANCRM_KAFKA_SSL_KEY_PASSWORD its password"):
            client_options(s)


def test_a_key_that_is_not_the_certificates_is_refused(pki: CertificateAuthority) -> None:
    one, other = pki.issue("one", ("svc",), client=True), pki.issue("other", ("svc",), client=True)
    s = settings(kafka_security_protocol="SSL", kafka_ssl_certfile=str(one.cert),
                 kafka_ssl_keyfile=str(other.key))
    with pytest.raises(ConfigurationError, match="is the key the certificate's"):
        client_options(s)


def test_a_ca_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    s = settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(garbage))
    with pytest.raises(ConfigurationError, match=re.escape(f"LEANCRM_KAFKA_SSL_CAFILE={garbage}: no CA")):
        client_options(s)


@pytest.mark.parametrize(("protocol", "mechanism", "kind"), [
    ("SASL_SSL", "PLAIN", SASLPlaintext), ("SASL_SSL", "SCRAM-SHA-256", SASLScram256),
    ("SASL_SSL", "SCRAM-SHA-512", SASLScram512), ("SASL_PLAINTEXT", "SCRAM-SHA-512", SASLScram512),
])
def test_sasl_reaches_aiokafka_and_faststream_alike(protocol: str, mechanism: str,
                                                     kind: type[BaseSecurity]) -> None:
    s = settings(kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism,
                 kafka_sasl_username="customers", kafka_sasl_password="pw")
    options = client_options(s)
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("customers", "pw")
    assert ("ssl_context" in options) == (protocol == "SASL_SSL")
    security = broker_security(options)
    assert type(security) is kind
    # what faststream gives its producer, consumers and admin client is what aiokafka gets
    assert parse_security(security) == {"ssl_context": None, **options}
    assert bool(transport_warnings(s)) == (protocol == "SASL_PLAINTEXT")


def test_tls_alone_reaches_faststream(pki: CertificateAuthority) -> None:
    options = client_options(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.cert)))
    security = broker_security(options)
    assert type(security) is BaseSecurity and security is not None and security.use_ssl
    assert parse_security(security) == options
