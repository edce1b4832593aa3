"""TLS from Python: a node with tls_* options serving dengine.Client over
mutual TLS, admin and ordinary identities, refusals, and reload_tls.
Certificates are made with the openssl command line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST, free_port

import dengine

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def issue(dir: Path, stem: str, cn: str, sans: str = "") -> None:
    openssl("req", *EC, "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
            "-subj", f"/CN={cn}", cwd=dir)
    (dir / f"{stem}.ext").write_text(f"subjectAltName={sans}\n" if sans else "")
    openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.crt", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile",
            f"{stem}.ext", "-out", f"{stem}.crt", cwd=dir)


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    dir = tmp_path / "tls"
    dir.mkdir()
    openssl("req", "-x509", *EC, "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=test CA", cwd=dir)
    issue(dir, "node-1", "node-1", "URI:dengine:node:1,IP:127.0.0.1")
    issue(dir, "ops", "ops")
    issue(dir, "app", "app")
    return dir


def tls_options(certs: Path) -> dict[str, object]:
    return {
        "tls_cert_file": certs / "node-1.crt",
        "tls_key_file": certs / "node-1.key",
        "tls_ca_file": certs / "ca.crt",
        "tls_require_client_cert": True,
        "tls_admin_identities": ["ops"],
    }


@pytest.fixture
def served(tmp_path: Path, certs: Path) -> Iterator[tuple[dengine.Node, str]]:
    address = f"127.0.0.1:{free_port()}"
    with dengine.Node(
        id=1,
        data_dir=tmp_path / "data",
        initial_voters=[1],
        client_address=address,
        **tls_options(certs),
        **FAST,
    ) as node:
        node.wait_for_leader()
        yield node, address


def client_tls(certs: Path, who: str | None) -> dengine.ClientTLS:
    if who is None:
        return dengine.ClientTLS(ca_file=certs / "ca.crt")
    return dengine.ClientTLS(
        ca_file=certs / "ca.crt",
        cert_file=certs / f"{who}.crt",
        key_file=certs / f"{who}.key",
    )


def test_admins_and_ordinary_clients(
    served: tuple[dengine.Node, str], certs: Path
) -> None:
    _, address = served
    with dengine.Client(address, timeout=10, tls=client_tls(certs, "ops")) as ops:
        ops.put("k", "v")
        assert ops.get("k") == b"v"
        assert ops.snapshot() > 0
    with dengine.Client(address, timeout=10, tls=client_tls(certs, "app")) as app:
        app.put("a", "b")
        with pytest.raises(dengine.PermissionDeniedError) as info:
            app.remove(1)
        assert '"app"' in info.value.message
        assert isinstance(info.value, PermissionError)
        with pytest.raises(dengine.PermissionDeniedError):
            app.transfer_leadership(1)
        assert app.get("a") == b"b"


def test_refused_clients_fail_with_the_reason(
    served: tuple[dengine.Node, str], certs: Path
) -> None:
    _, address = served
    with dengine.Client(address, timeout=2, tls=client_tls(certs, None)) as anonymous:
        with pytest.raises(dengine.IOError) as info:
            anonymous.put("x", "y")
        assert "certificate" in info.value.message
    with dengine.Client(address, timeout=2) as plaintext:
        with pytest.raises(dengine.IOError) as info:
            plaintext.put("x", "y")
        assert "TLS" in info.value.message
    with pytest.raises(dengine.InvalidArgumentError) as bad:
        dengine.Client(address, tls=dengine.ClientTLS(ca_file=certs / "none.crt"))
    assert "none.crt" in bad.value.message


def test_bad_options_and_files_are_refused(tmp_path: Path, certs: Path) -> None:
    options = tls_options(certs)
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Node(id=1, data_dir=tmp_path / "d", initial_voters=[1],
                     **{**options, "tls_cert_file": certs / "missing.crt"})
    assert "missing.crt" in info.value.message
    with pytest.raises(dengine.InvalidArgumentError) as info:
        dengine.Node(id=1, data_dir=tmp_path / "d", tls_min_version="1.1")
    assert "tls_min_version" in info.value.message
    with pytest.raises(dengine.InvalidArgumentError):
        dengine.Node(id=1, data_dir=tmp_path / "d", tls_require_client_cert="yes")
    with pytest.raises(dengine.InvalidArgumentError):
        dengine.Node(id=1, data_dir=tmp_path / "d", tls_admin_identities="ops")


def test_reload_tls(served: tuple[dengine.Node, str], certs: Path) -> None:
    node, address = served
    shutil.copy(certs / "node-1.crt", certs / "node-1.saved")
    issue(certs, "node-1", "node-1 renewed", "URI:dengine:node:1,IP:127.0.0.1")
    node.reload_tls()
    with dengine.Client(address, timeout=10, tls=client_tls(certs, "ops")) as ops:
        ops.put("after", "reload")
    (certs / "node-1.crt").write_text("not a certificate\n")
    with pytest.raises(dengine.InvalidArgumentError) as info:
        node.reload_tls()
    assert "node-1.crt" in info.value.message
    with dengine.Client(address, timeout=10, tls=client_tls(certs, "ops")) as ops:
        assert ops.get("after") == b"reload"


def test_reload_without_tls_is_unsupported(tmp_path: Path) -> None:
    with dengine.Node(id=1, data_dir=tmp_path, initial_voters=[1], **FAST) as node:
        with pytest.raises(dengine.UnsupportedError):
            node.reload_tls()
