"""Helpers of the deployment tests: the checkers' paths, and deploy/ files rendered under a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    """The checker's path; missing is a failure in CI (.ci/run installs it), a skip elsewhere."""
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)),
                                      None)
    if path is None:
        if REQUIRE:
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
    return path


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **kw)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yinling.example.org")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2020, 1, 1)).not_valid_after(datetime(2100, 1, 1))  # fixed: no clock
            .sign(key, hashes.SHA256()))
    crt, pem = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def render_nginx(tmp_path: Path, site: str | None = None, ports: tuple[int, int, int] | None = None) -> Path:
    """The site under tmp_path (certificate, logs, temp files), wrapped in a minimal nginx.conf.

    With `ports` (http, https, app) it listens on loopback there and proxies to the app's port, to be run.
    """
    crt, pem = self_signed(tmp_path)
    (tmp_path / "logs").mkdir(exist_ok=True)
    body = site if site is not None else (DEPLOY / "nginx" / "yinling.conf").read_text(encoding="utf-8")
    body = (body.replace("/etc/letsencrypt/live/yinling.example.org/fullchain.pem", str(crt))
            .replace("/etc/letsencrypt/live/yinling.example.org/privkey.pem", str(pem))
            .replace("/var/log/nginx/", f"{tmp_path}/logs/").replace("/var/www/letsencrypt", f"{tmp_path}/www"))
    head = ""
    if ports is not None:
        http, https, app = ports
        for old, new in (("listen 80;", f"listen 127.0.0.1:{http};"), ("listen [::]:80;", ""),
                         ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
                         ("listen [::]:443 ssl http2;", ""), ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app};")):
            assert old in body, old
            body = body.replace(old, new)
        # as root, nginx's workers would run as nobody, who cannot enter pytest's private temporary directory
        head = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "site.conf").write_text(body, encoding="utf-8")
    temp = " ".join(f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                       "uwsgi", "scgi"))
    main = tmp_path / "nginx.conf"
    main.write_text(f"{head}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
                    f"http {{\n  {temp}\n  include {tmp_path}/site.conf;\n}}\n", encoding="utf-8")
    return main
