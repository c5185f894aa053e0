"""
Real SMTP peers for the e-mail driver's tests (aiosmtpd, Debian python3-aiosmtpd): a sink that
keeps what it receives, and the same server rigged to fail (a reply to RCPT such as 451 or
550, or a refused login). AUTH works over plain TCP (auth_require_tls=False) so the tests need
no certificates.
"""
import email
import email.policy
import os
import socket
import ssl
import subprocess
import tempfile
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER = "mailer"
PASSWORD = "smtp-pass-0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def self_signed():
    """A fresh certificate for 127.0.0.1 and its key: (cert PEM text, cert path, key path)."""
    d = tempfile.mkdtemp(prefix="smtp-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    with open(cert) as f:
        return f.read(), cert, key


class Sink:
    """An SMTP server on 127.0.0.1:port. rcpt_reply: the answer to every RCPT (None: accept);
    password: the one AUTH accepts for USER; tls: None (plain), "starttls" (required before
    MAIL) or "smtps" (TLS from the first byte), with a self-signed certificate (self.ca_pem)."""

    def __init__(self, rcpt_reply=None, password=PASSWORD, tls=None):
        self.rcpt_reply, self.password = rcpt_reply, password
        self.lock = threading.Lock()
        self.messages = []  # (mail_from, [rcpt], email.message.EmailMessage, raw bytes)
        self.rcpts = 0      # RCPT commands seen
        self.logins = 0     # AUTH attempts
        self.ehlos = 0      # EHLO commands: one per connection (and one more after STARTTLS)
        self.port = free_port()
        self.tls, self.ca_pem, kw = tls, None, {}
        if tls:
            self.ca_pem, cert, key = self_signed()
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert, key)
            kw = {"tls_context": ctx, "require_starttls": True} if tls == "starttls" else \
                {"ssl_context": ctx}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                     authenticator=self._auth, auth_require_tls=False,
                                     auth_required=True, **kw)
        self.controller.start()

    def _auth(self, server, session, envelope, mechanism, auth_data):
        with self.lock:
            self.logins += 1
        ok = (auth_data.login.decode() == USER and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)  # False: the server answers 535

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpts += 1
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 Message accepted"

    def account(self, **extra):
        a = {"host": "127.0.0.1", "port": self.port, "username": USER, "password": self.password,
             "security": self.tls or "none"}
        if self.ca_pem:
            a["ca_pem"] = self.ca_pem
        a.update(extra)
        return a

    def stop(self):
        self.controller.stop()
