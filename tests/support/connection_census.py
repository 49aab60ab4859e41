"""Who holds each connection to Postgres and Redis: the servers' own lists, matched to local processes by port.

pg_stat_activity (client_port) and Redis's CLIENT LIST (addr) give each
client's address as the server sees it; /proc says which local process owns
the socket with that port. Linux only, like the process tests that use it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis


def _established_to(server_port: int) -> dict[int, int]:
    """{socket inode: local port} of this machine's established TCP connections to `server_port`."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == server_port:  # 01: ESTABLISHED
                found[inode] = int(local.rsplit(":", 1)[1], 16)
    return found


def port_owners(server_port: int, pids) -> dict[int, int]:
    """{local port: pid} for the connections that `pids` hold to `server_port`."""
    inodes = _established_to(server_port)
    owners = {}
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # exited
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
            except OSError:
                continue
            match = re.fullmatch(r"socket:\[(\d+)\]", target)
            if match and int(match.group(1)) in inodes:
                owners[inodes[int(match.group(1))]] = pid
    return owners


def parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class ConnectionCensus:
    """Count, per local process, the connections Postgres and Redis see from it."""

    def __init__(self, postgres_admin_url: str, database: str, redis_url: str):
        self.database = database
        self.postgres_port = urlsplit(postgres_admin_url).port or 5432
        self.redis_port = urlsplit(redis_url).port or 6379
        self._postgres = psycopg.connect(postgres_admin_url, autocommit=True)
        self._redis = redis.Redis.from_url(redis_url)

    def count(self, pids) -> dict[int, dict[str, int]]:
        """{pid: {"postgres": n, "redis": n}} for those of `pids` that hold any connection."""
        pids = list(pids)
        query = "SELECT client_port FROM pg_stat_activity WHERE datname = %s AND client_port IS NOT NULL"
        ports = [row[0] for row in self._postgres.execute(query, (self.database,))]
        addresses = [client["addr"] for client in self._redis.client_list()]
        counts: dict[int, dict[str, int]] = {}
        for service, server_port, client_ports in (
            ("postgres", self.postgres_port, ports),
            ("redis", self.redis_port, [int(address.rsplit(":", 1)[1]) for address in addresses]),
        ):
            owners = port_owners(server_port, pids)
            for port in client_ports:
                if port in owners:
                    counts.setdefault(owners[port], {"postgres": 0, "redis": 0})[service] += 1
        return counts

    def close(self) -> None:
        self._postgres.close()
        self._redis.close()
