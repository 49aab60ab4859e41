"""Self-tests of the fault-test helpers: the SMTP sink, the Redis proxies, Procfile processes.

The fault tests trust these to misbehave exactly as documented, so each
behaviour is checked against the real client (smtplib, redis-py) here.
"""

from __future__ import annotations

import signal
import smtplib
import socket
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.processes import PORT_FLOOR, free_port, port_is_free, process_env, wait_for
from tests.support.procfile_processes import ProcessSet, ProcfileProcess
from tests.support.redis_proxy import RedisProxy
from tests.support.smtp_sink import running_sink


def message(to: str = "reader@example.test", message_id: str = "<receipt-1@blasto.test>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "shop@blasto.test", to, "Your receipt", message_id
    msg.set_content("Thank you for your order.")
    return msg


def send(sink, msg: EmailMessage, timeout: float = 5.0) -> dict:
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=timeout) as client:
        return client.send_message(msg)


@pytest.fixture
def sink():
    with running_sink() as sink:
        yield sink


def test_sink_records_accepted_mail(sink):
    assert send(sink, message()) == {}
    [got] = sink.wait_for_count(1, timeout=2)
    assert (got.message_id, got.subject, got.rcpt_tos) == (
        "<receipt-1@blasto.test>",
        "Your receipt",
        ("reader@example.test",),
    )
    assert got.message.get_content().strip() == "Thank you for your order."
    assert sink.by_message_id() == {"<receipt-1@blasto.test>": [got]}
    assert sink.for_recipient("READER@example.test") == [got] and sink.attempts == 1
    assert sink.url == f"smtp://127.0.0.1:{sink.port}"


def test_sink_delays_the_answer_to_data(sink):
    sink.delay_seconds = 0.3
    started = time.monotonic()
    send(sink, message())
    assert time.monotonic() - started >= 0.3
    assert len(sink.received) == 1


def test_sink_drops_mail_when_the_client_gives_up_during_the_delay(sink):
    # The client's timeout covers every command, so it is long enough for EHLO to DATA on a
    # loaded machine (0.2 s was not, once) and well inside the delay.
    sink.delay_seconds = 5.0
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        send(sink, message(), timeout=1.5)
    assert sink.attempts == 1, "the client gave up during the delay, after DATA reached the sink"
    sink.delay_seconds = 0
    send(sink, message(message_id="<after@blasto.test>"))
    assert [got.message_id for got in sink.wait_for_count(1, timeout=2)] == ["<after@blasto.test>"]
    assert sink.attempts == 2


def test_sink_holds_every_send_until_released_and_drops_a_client_that_died_meanwhile(sink):
    sink.holding = True
    client = smtplib.SMTP("127.0.0.1", sink.port, timeout=30)
    client.ehlo()
    client.mail("shop@blasto.test")
    client.rcpt("reader@example.test")
    client.putcmd("data")
    assert client.getreply()[0] == 354
    client.send(b"Subject: cut\r\n\r\nmid-send\r\n.\r\n")
    wait_for(lambda: sink.in_flight == 1, 10, what="the send held at the sink")
    client.close()  # the sender dies mid-send, as a SIGKILLed worker's socket does
    wait_for(lambda: sink.in_flight == 0, 10, what="the held send to end with its connection")
    assert sink.received == [] and sink.attempts == 1

    held = threading.Thread(target=send, args=(sink, message()))
    held.start()
    wait_for(lambda: sink.in_flight == 1, 10, what="the second send held")
    assert sink.received == []
    sink.holding = False
    held.join(10)
    assert [got.message_id for got in sink.wait_for_count(1, timeout=5)] == ["<receipt-1@blasto.test>"]


def test_sink_refuses_data(sink):
    sink.refuse_data = "451 4.3.0 Try again later"
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send(sink, message())
    assert (caught.value.smtp_code, caught.value.smtp_error) == (451, b"4.3.0 Try again later")
    assert sink.received == [] and sink.attempts == 1


def test_sink_refuses_recipients(sink):
    sink.refuse_recipients = {"Gone@Example.test"}
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(sink, message(to="gone@example.test"))
    assert caught.value.recipients == {"gone@example.test": (550, b"5.1.1 No such user here")}
    assert send(sink, message(to="gone@example.test, reader@example.test")) == {
        "gone@example.test": (550, b"5.1.1 No such user here")
    }
    assert sink.wait_for_count(1, timeout=2)[0].rcpt_tos == ("reader@example.test",)


def test_sink_answers_data_with_garbage(sink):
    sink.garbage = True
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send(sink, message())
    assert caught.value.smtp_code == -1  # smtplib could not parse a reply code
    assert sink.received == [] and sink.attempts == 1


def test_sink_stops_and_restarts_on_the_same_port(sink):
    port = sink.port
    send(sink, message())
    sink.stop()
    with pytest.raises(ConnectionRefusedError):
        send(sink, message())
    sink.start()
    assert sink.port == port
    send(sink, message(message_id="<receipt-2@blasto.test>"))
    assert len(sink.wait_for_count(2, timeout=2)) == 2


def test_redis_proxy_goes_down_and_comes_back_empty_on_the_same_port(redis_url):
    import redis

    with RedisProxy(redis_url) as proxy:
        client = redis.Redis.from_url(proxy.url, socket_connect_timeout=1, socket_timeout=1)
        assert client.set("before", "1") and proxy.is_up
        proxy.down()
        assert not proxy.is_up
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
        proxy.up()
        assert client.ping() and client.get("before") is None, "back empty, as a restarted Redis without persistence"
        client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1)


def test_tls_redis_is_a_real_tls_handshake_with_a_self_signed_certificate(redis_url, tmp_path):
    import ssl

    import redis

    from tests.support.tls_redis import tls_redis

    def handshake(context: ssl.SSLContext, address: tuple) -> str:
        context.check_hostname = False
        with socket.create_connection(address, timeout=5) as raw, context.wrap_socket(raw) as tls:
            return tls.version()

    with tls_redis(tmp_path, redis_url) as url:  # it checks that plain and verifying clients are refused
        parts = urlsplit(url)
        assert parts.scheme == "rediss"
        address = (parts.hostname, parts.port)
        with pytest.raises(ssl.SSLCertVerificationError) as refused:
            handshake(ssl.create_default_context(), address)
        assert refused.value.verify_code == 18, refused.value  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, as Heroku's
        itself = ssl.create_default_context(cafile=tmp_path / "redis-cert.pem")  # the certificate as its own anchor
        assert handshake(itself, address) in ("TLSv1.2", "TLSv1.3")
        client = redis.Redis.from_url(url, ssl_cert_reqs="none")
        assert client.set("over-tls", "1") and redis.Redis.from_url(redis_url).get("over-tls") == b"1"
        client.close()


@pytest.fixture
def sleeper_procfile(tmp_path):
    path = tmp_path / "Procfile"
    path.write_text(
        "sleeper: GREETING=up ${PYTHON:-python} -c \"import os,time; print(os.environ['GREETING'], flush=True); time.sleep(60)\"\n"
    )
    return path


@pytest.mark.processes
def test_procfile_process_kill_restart_terminate(tmp_path, sleeper_procfile):
    env = process_env(PYTHON=sys.executable)
    process = ProcfileProcess("sleeper", env, tmp_path / "sleeper.log", procfile_path=sleeper_procfile, cwd=tmp_path)
    process.start()
    process.wait_for_output(r"^up$", timeout=5)
    first_pid = process.pid
    process.kill()
    assert not process.running
    process.restart()
    assert process.running and process.pid != first_pid
    process.wait_for_output(r"^up$", timeout=5)
    assert process.terminate(timeout=5) in (-signal.SIGTERM, 128 + signal.SIGTERM)
    assert process.output().count("up") == 2  # the log keeps every run


@pytest.mark.processes
def test_process_set_kills_everything_on_exit(tmp_path, sleeper_procfile):
    env = process_env(PYTHON=sys.executable)
    with ProcessSet(tmp_path, procfile_path=sleeper_procfile, cwd=tmp_path) as processes:
        one, two = processes.start("sleeper", env, "sleeper.1"), processes.start("sleeper", env, "sleeper.2")
        for process in (one, two):
            process.wait_for_output("up", timeout=5)
        processes["sleeper.1"].signal(signal.SIGKILL)
        one.kill()  # reaps; two keeps running alone
        assert not one.running and two.running
    assert not two.running
    assert (tmp_path / "sleeper.2.log").read_text() == "up\n"


def test_free_port_gives_a_run_of_free_ports_outside_the_ephemeral_range():
    """Outgoing connections take local ports from the ephemeral range; a server port must not be one they can take."""
    floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(20):
        base = free_port(count=4)
        assert base >= PORT_FLOOR and base + 3 < floor
        for port in range(base, base + 4):
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(("::", port))


def test_a_port_with_a_listener_is_not_free():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as held:
        held.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        held.bind(("::", 0))
        taken = held.getsockname()[1]
        held.listen()
        assert not port_is_free(taken)
