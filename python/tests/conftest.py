"""Real memcached processes on free 127.0.0.1 ports, started and stopped by
the tests, and the two clients under comparison: quickmc and the real
pylibmc (Debian's python3-pylibmc). A missing piece fails the run with how
to install it; nothing is skipped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest


def _require_quickmc():
    try:
        import quickmc
    except ImportError as e:  # pragma: no cover - the message is the point
        pytest.fail(
            f"quickmc is not importable ({e}): build and install it with "
            "`pip install ./python` in the test virtualenv (./scripts/test.sh does)",
            pytrace=False,
        )
    return quickmc


def _require_pylibmc():
    try:
        import pylibmc
    except ImportError as e:  # pragma: no cover
        pytest.fail(
            f"pylibmc is not importable ({e}): install Debian's python3-pylibmc "
            "(`apt-get install python3-pylibmc`) and run the tests in a virtualenv made "
            "with `/usr/bin/python3 -m venv --system-site-packages` (./scripts/test.sh does)",
            pytrace=False,
        )
    return pylibmc


def _memcached_binary() -> str:
    path = shutil.which("memcached") or ("/usr/bin/memcached" if os.path.exists("/usr/bin/memcached") else None)
    if path is None:
        pytest.fail(
            "memcached not found: install it with `apt-get install memcached` "
            "(./scripts/setup.sh --tests does)",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Memcached:
    """One memcached on 127.0.0.1 (or a Unix socket), stopped by stop()
    (bounded waits only)."""

    def __init__(self, extra: tuple[str, ...] = (), env: dict | None = None, unix: str | None = None,
                 port: int | None = None) -> None:
        binary = _memcached_binary()
        self.unix = unix
        for _attempt in range(5):
            self.port = port or free_port()
            listen = ["-s", unix] if unix else ["-l", "127.0.0.1", "-p", str(self.port), "-U", "0"]
            args = [binary, *listen, "-m", "64", "-t", "2", *extra]
            if os.geteuid() == 0:
                args[1:1] = ["-u", "root"]
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            env={**os.environ, **(env or {})})
            if self._wait_ready(5.0):
                return
            self.stop()
        pytest.fail("memcached did not start after 5 attempts", pytrace=False)

    @property
    def address(self) -> str:
        return self.unix or f"127.0.0.1:{self.port}"

    def _connect(self):
        if self.unix:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(0.2)
            s.connect(self.unix)
            return s
        return socket.create_connection(("127.0.0.1", self.port), timeout=0.2)

    def _wait_ready(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                probe = self._connect()
            except OSError:
                time.sleep(0.01)
                continue
            with probe:
                self._answered(probe)
            return True
        return False

    @staticmethod
    def _answered(probe: socket.socket) -> None:
        """Waits (0.2 s at most) for any answer to a binary Noop: a reply,
        an error, a TLS alert or the close. memcached counts a connection in
        `total_connections` only once a worker thread takes it up, which
        may be after a later client's; a probe that was answered has been
        counted before any test reads the counter."""
        noop = bytes([0x80, 0x0A]) + bytes(22)
        try:
            probe.sendall(noop)
            probe.recv(64)
        except OSError:
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


SASL_USER = "quickmc"
SASL_PASSWORD = "s3cret"


def start_sasl_memcached(directory) -> Memcached:
    """A memcached requiring SASL PLAIN (user quickmc, password s3cret)."""
    saslpasswd2 = shutil.which("saslpasswd2")
    if saslpasswd2 is None:
        pytest.fail("saslpasswd2 not found: install it with `apt-get install sasl2-bin` "
                    "(./scripts/setup.sh --tests does)", pytrace=False)
    db = directory / "sasldb2"
    subprocess.run([saslpasswd2, "-p", "-a", "memcached", "-c", "-f", str(db), SASL_USER],
                   input=SASL_PASSWORD.encode(), check=True, timeout=30)
    (directory / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {db}\n")
    return Memcached(("-S",), env={"SASL_CONF_PATH": str(directory)})


def _require_cryptography():
    try:
        import cryptography  # noqa: F401
    except ImportError as e:  # pragma: no cover
        pytest.fail(
            f"cryptography is not importable ({e}): the TLS tests make their certificates "
            "with it; install it in the test virtualenv with `pip install cryptography` "
            "(./scripts/test-python.sh does)",
            pytrace=False,
        )


class Pki:
    """Certificates made by the tests: a CA and what it signed, and another
    CA that signed nothing here. PEM files in ``directory``."""

    def __init__(self, directory) -> None:
        _require_cryptography()
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        day = datetime.timedelta(days=1)

        def name(common_name: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

        def write(file: str, data: bytes) -> str:
            path = directory / file
            path.write_bytes(data)
            return str(path)

        def pem(cert) -> bytes:
            return cert.public_bytes(serialization.Encoding.PEM)

        def ca(common_name: str):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = (
                x509.CertificateBuilder()
                .subject_name(name(common_name))
                .issuer_name(name(common_name))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - day)
                .not_valid_after(now + 30 * day)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                  data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                  crl_sign=True, encipher_only=False, decipher_only=False),
                    critical=True,
                )
                .sign(key, hashes.SHA256())
            )
            return cert, key

        def leaf(file: str, issuer, names: list, ip: bool) -> tuple[str, str]:
            issuer_cert, issuer_key = issuer
            key = ec.generate_private_key(ec.SECP256R1())
            alt = [x509.DNSName(n) for n in names]
            if ip:
                alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
            cert = (
                x509.CertificateBuilder()
                .subject_name(name(names[0]))
                .issuer_name(issuer_cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - day)
                .not_valid_after(now + 30 * day)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(issuer_key, hashes.SHA256())
            )
            key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
            return write(f"{file}.pem", pem(cert)), write(f"{file}.key", key_pem)

        issuer = ca("quickmc test CA")
        other = ca("another CA")
        self.ca = write("ca.pem", pem(issuer[0]))
        self.other_ca = write("other-ca.pem", pem(other[0]))
        #: For localhost and 127.0.0.1.
        self.server = leaf("server", issuer, ["localhost"], ip=True)
        #: For the name cache.test only (no IP address).
        self.named = leaf("named", issuer, ["cache.test"], ip=False)
        #: A client certificate the CA signed (mutual TLS).
        self.client = leaf("client", issuer, ["quickmc client"], ip=False)


def start_tls_memcached(cert: tuple[str, str], ca: str | None = None) -> Memcached:
    """A memcached serving TLS with ``cert`` (and, given ``ca``, requiring a
    client certificate it signed), with a plain listener beside it on
    ``plain_address`` (memcached's ``notls:``)."""
    plain = free_port()
    ssl = f"ssl_chain_cert={cert[0]},ssl_key={cert[1]}"
    if ca:
        ssl += f",ssl_ca_cert={ca},ssl_verify_mode=2"
    server = Memcached(("-l", f"notls:127.0.0.1:{plain}", "-Z", "-o", ssl))
    server.plain_address = f"127.0.0.1:{plain}"
    return server


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tls_server(pki):
    """memcached -Z with a certificate for localhost and 127.0.0.1."""
    server = start_tls_memcached(pki.server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def quickmc():
    return _require_quickmc()


@pytest.fixture(scope="session")
def pylibmc():
    return _require_pylibmc()


@pytest.fixture(scope="session")
def server():
    mc = Memcached()
    yield mc
    mc.stop()


@pytest.fixture(scope="session")
def cluster():
    servers = [Memcached() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture
def start_memcached():
    """Starts extra memcached processes for one test (stopped after it)."""
    started: list[Memcached] = []

    def start(*extra: str, unix: str | None = None, port: int | None = None) -> Memcached:
        m = Memcached(tuple(extra), unix=unix, port=port)
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


@pytest.fixture
def mc(quickmc, server):
    client = quickmc.Client([server.address], binary=True)
    client.flush_all()
    return client


@pytest.fixture
def real(pylibmc, server):
    """Real pylibmc on the same server (binary protocol, cas on)."""
    return pylibmc.Client([server.address], binary=True, behaviors={"cas": True})


@pytest.fixture
def dead_address():
    """A loopback port nothing listens on."""
    return f"127.0.0.1:{free_port()}"
