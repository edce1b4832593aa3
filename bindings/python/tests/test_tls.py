"""TLS from Python: a node with tls_* options serving dengine.Client over
TLS and mutual TLS, admin and ordinary identities, server names, refusals,
and reload_tls. Certificates come from the tls_ca fixture (conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST, CertificateAuthority, free_port

import dengine

Served = tuple[dengine.Node, str]


def start(tmp_path: Path, tls_ca: CertificateAuthority, **tls: object) -> Served:
    """Node 1, alone, serving clients on a fresh address with TLS."""
    address = f"127.0.0.1:{free_port()}"
    node = dengine.Node(
        id=1,
        data_dir=tmp_path / "data",
        initial_voters=[1],
        client_address=address,
        **tls_ca.node(1),
        **tls,
        **FAST,
    )
    try:
        node.wait_for_leader()
    except BaseException:
        node.close()
        raise
    return node, address


@pytest.fixture
def served(tmp_path: Path, tls_ca: CertificateAuthority) -> Iterator[Served]:
    """Mutual TLS: client certificates required, "ops" the admin."""
    node, address = start(
        tmp_path, tls_ca, tls_require_client_cert=True, tls_admin_identities=["ops"]
    )
    with node:
        yield node, address


def test_tls_without_client_certificates(
    tmp_path: Path, tls_ca: CertificateAuthority
) -> None:
    node, address = start(tmp_path, tls_ca)
    with node, dengine.Client(address, timeout=10, tls=tls_ca.client(None)) as client:
        client.put("k", "v")
        assert client.get("k") == b"v"
        assert node.get("k") == b"v"
        # Without required certificates every client may run admin calls.
        assert client.snapshot() > 0


def test_admins_and_ordinary_clients(
    served: Served, tls_ca: CertificateAuthority
) -> None:
    _, address = served
    with dengine.Client(address, timeout=10, tls=tls_ca.client("ops")) as ops:
        ops.put("k", "v")
        assert ops.get("k") == b"v"
        assert ops.snapshot() > 0
    with dengine.Client(address, timeout=10, tls=tls_ca.client("app")) as app:
        app.put("a", "b")
        with pytest.raises(dengine.PermissionDeniedError) as info:
            app.remove(1)
        assert '"app"' in info.value.message
        assert isinstance(info.value, PermissionError)
        assert isinstance(info.value, dengine.DengineError)
        with pytest.raises(dengine.PermissionDeniedError):
            app.transfer_leadership(1)
        with pytest.raises(dengine.PermissionDeniedError):
            app.snapshot()
        assert app.get("a") == b"b"
        assert [m.id for m in app.status().members] == [1]


def test_refused_clients_fail_with_the_reason(
    served: Served, tls_ca: CertificateAuthority
) -> None:
    _, address = served
    with dengine.Client(address, timeout=2, tls=tls_ca.client(None)) as anonymous:
        with pytest.raises(dengine.IOError) as info:
            anonymous.put("x", "y")
        assert "certificate" in info.value.message
    with dengine.Client(address, timeout=2) as plaintext:
        with pytest.raises(dengine.IOError) as info:
            plaintext.put("x", "y")
        assert "TLS" in info.value.message


def test_server_names_and_versions(
    served: Served, tls_ca: CertificateAuthority
) -> None:
    _, address = served
    # The node's certificate names localhost too; the endpoint is an IP.
    named = tls_ca.client("ops", server_name="localhost", min_version="1.2")
    with dengine.Client(address, timeout=10, tls=named) as client:
        client.put("named", "yes")
    elsewhere = tls_ca.client("ops", server_name="elsewhere.example")
    with dengine.Client(address, timeout=2, tls=elsewhere) as client:
        with pytest.raises(dengine.IOError):
            client.put("x", "y")


def test_bad_client_options_name_the_file_or_option(
    tls_ca: CertificateAuthority,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Client(address, tls=dengine.ClientTLS(ca_file=tls_ca.dir / "none.crt"))
    assert "none.crt" in info.value.message
    ops = tls_ca.client("ops")
    with pytest.raises(dengine.InvalidArgumentError):
        dengine.Client(
            address, tls=dengine.ClientTLS(ca_file=ops.ca_file, cert_file=ops.cert_file)
        )
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Client(address, tls=tls_ca.client(None, min_version="1.1"))
    assert "min_version" in info.value.message


def test_bad_node_options_and_files_are_refused(
    tmp_path: Path, tls_ca: CertificateAuthority
) -> None:
    files = tls_ca.node(1)
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Node(
            id=1,
            data_dir=tmp_path / "d",
            initial_voters=[1],
            **{**files, "tls_cert_file": tls_ca.dir / "missing.crt"},
        )
    assert "missing.crt" in info.value.message
    (tls_ca.dir / "garbage.key").write_text("not a key\n")
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Node(
            id=1,
            data_dir=tmp_path / "d",
            initial_voters=[1],
            **{**files, "tls_key_file": tls_ca.dir / "garbage.key"},
        )
    assert "garbage.key" in info.value.message
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Node(id=1, data_dir=tmp_path / "d", tls_min_version="1.1")
    assert "tls_min_version" in info.value.message
    with pytest.raises(dengine.InvalidArgumentError, match="tls_require_client_cert"):
        dengine.Node(id=1, data_dir=tmp_path / "d", tls_require_client_cert="yes")
    with pytest.raises(dengine.InvalidArgumentError, match="tls_admin_identities"):
        dengine.Node(id=1, data_dir=tmp_path / "d", tls_admin_identities="ops")


def test_reload_tls(served: Served, tls_ca: CertificateAuthority) -> None:
    node, address = served
    tls_ca.node(1, cn="node-1 renewed")  # new key and certificate in place
    node.reload_tls()
    with dengine.Client(address, timeout=10, tls=tls_ca.client("ops")) as ops:
        ops.put("after", "reload")

    cert = tls_ca.dir / "node-1.crt"
    good = cert.read_bytes()
    cert.write_text("not a certificate\n")
    with pytest.raises(dengine.InvalidArgumentError) as info:
        node.reload_tls()
    assert "node-1.crt" in info.value.message
    cert.unlink()
    with pytest.raises(dengine.InvalidArgumentError) as info:
        node.reload_tls()
    assert "node-1.crt" in info.value.message
    # The refused reloads kept the certificates in use.
    with dengine.Client(address, timeout=10, tls=tls_ca.client("ops")) as ops:
        assert ops.get("after") == b"reload"
    cert.write_bytes(good)
    node.reload_tls()


def test_reload_without_tls_is_unsupported(tmp_path: Path) -> None:
    with dengine.Node(id=1, data_dir=tmp_path, initial_voters=[1], **FAST) as node:
        with pytest.raises(dengine.UnsupportedError):
            node.reload_tls()
